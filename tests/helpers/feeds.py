"""Small feed documents built in tests, in the three XML formats."""

from __future__ import annotations

from xml.sax.saxutils import escape

Item = tuple[str, str, str]  # (guid, title, description)


def rss2(items: list[Item], *, link_base: str = "https://news.example.org/") -> str:
    body = "".join(
        f"<item><guid>{escape(g)}</guid><title>{escape(t)}</title>"
        f"<link>{link_base}{escape(g)}</link><description>{escape(d)}</description>"
        f"<pubDate>Mon, 02 Nov 2026 10:00:00 GMT</pubDate></item>"
        for g, t, d in items
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>Test RSS</title><link>{link_base}</link><description>d</description>"
        f"{body}</channel></rss>"
    )


def atom(items: list[Item], *, link_base: str = "https://atom.example.org/") -> str:
    body = "".join(
        f"<entry><id>urn:{escape(g)}</id><title>{escape(t)}</title>"
        f'<link href="{link_base}{escape(g)}"/><updated>2026-11-02T10:00:00Z</updated>'
        f"<summary>{escape(d)}</summary></entry>"
        for g, t, d in items
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
        f"<title>Test Atom</title><id>urn:feed</id><updated>2026-11-02T10:00:00Z</updated>"
        f"{body}</feed>"
    )


def rss1(items: list[Item], *, link_base: str = "https://rdf.example.org/") -> str:
    lis = "".join(f'<rdf:li rdf:resource="{link_base}{escape(g)}"/>' for g, _, _ in items)
    body = "".join(
        f'<item rdf:about="{link_base}{escape(g)}"><title>{escape(t)}</title>'
        f"<link>{link_base}{escape(g)}</link><description>{escape(d)}</description></item>"
        for g, t, d in items
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" '
        'xmlns="http://purl.org/rss/1.0/">'
        f'<channel rdf:about="{link_base}"><title>Test RDF</title><link>{link_base}</link>'
        f"<description>d</description><items><rdf:Seq>{lis}</rdf:Seq></items></channel>"
        f"{body}</rdf:RDF>"
    )
