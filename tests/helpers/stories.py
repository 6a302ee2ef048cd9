"""Story texts for dedup tests: a wire story, another story on the same topic, and the
boilerplate outlets add (trailers, related-links lists, a long house trailer)."""

from __future__ import annotations

from xml.sax.saxutils import escape

LEAD = (
    "Fighters took control of nearly the entire Yarmouk refugee camp in southern Damascus "
    "on Wednesday, residents said."
)
BODY = [
    "The camp, home to about 18,000 Palestinians before the war, has been besieged for more "
    "than two years.",
    "Aid workers said food and medicine had run out weeks ago and that at least six people "
    "had starved to death.",
    "UNRWA spokesman Chris Gunness called for safe passage for the civilians still trapped inside.",
    "Residents reached by telephone described heavy street fighting near the main mosque and "
    "the hospital.",
    "A commander of a Palestinian faction said his men had pulled back to the northern edge "
    "of the camp.",
    "The government said it was ready to open a corridor for families who wanted to leave.",
]
OTHER = [  # same topic, same places and names: another day's news
    "Government forces shelled the Yarmouk camp on Saturday for the third day running, "
    "activists said.",
    "UNRWA said it had been unable to deliver any aid to the camp since the start of the month.",
    "Chris Gunness said the agency was deeply alarmed by reports of civilian casualties in "
    "southern Damascus.",
    "Families who fled to nearby Tadamon said the water supply had been cut and bakeries "
    "had closed.",
    "Palestinian officials in Ramallah said they were trying to broker a truce between the "
    "factions.",
    "The camp's main hospital stopped working after its generator was hit, a doctor said.",
]
TRAILER = "(Reporting by Suleiman Al-Khalidi in Amman; Editing by Tom Perry)"
RELATED = (
    "Related:\nSyria talks stall in Geneva\nJordan closes border crossing\n"
    "Winter storm hits camps in Lebanon"
)
WP = "The post {t} appeared first on Levant Daily."
HOUSE = (  # a long house trailer that no pattern knows: only its repetition gives it away
    "City Press is an independent newsroom funded by its readers, not by advertisers or owners "
    "with an agenda. Our journalism is free to read and always will be, because we believe "
    "everyone deserves access to accurate news about the region. If you value our reporting, "
    "please support us from one dollar a month and tell a friend about our work. Our "
    "correspondents work across Syria, Lebanon, Jordan and Iraq, often at great personal "
    "risk, to bring you the stories that others miss. Thank you for reading and for being "
    "part of our community of readers."
)


def rss_items(items: list[tuple[str, str, str, str]]) -> str:
    """RSS 2.0 with items given as (guid, title, link, text); text paragraphs per line."""
    body = "".join(
        f"<item><guid isPermaLink='false'>{escape(g)}</guid><title>{escape(t)}</title>"
        f"<link>{escape(link)}</link><description>"
        + escape("".join(f"<p>{escape(line)}</p>" for line in text.split("\n")))
        + "</description></item>"
        for g, t, link, text in items
    )
    return (
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>{body}</channel></rss>'
    )
