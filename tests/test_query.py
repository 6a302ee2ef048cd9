"""The watchlist query language: parsing (operators, precedence, errors with columns)."""

from __future__ import annotations

import pytest

from aggregator.match.query import And, Near, Node, Not, Or, QueryError, TermNode, parse_query


def show(node: Node) -> str:
    """A compact rendering of a tree: words, fields, operators, all bracketed."""
    if isinstance(node, TermNode):
        text = " ".join(node.term.words) + ("*" if node.term.prefix else "")
        text = f'"{text}"' if len(node.term.words) > 1 else text
        return f"{node.field}:{text}" if node.field else text
    if isinstance(node, Near):
        return f"({show(node.left)} NEAR/{node.distance} {show(node.right)})"
    if isinstance(node, Not):
        return f"-{show(node.child)}"
    joiner = " AND " if isinstance(node, And) else " OR "
    return "(" + joiner.join(show(child) for child in node.children) + ")"


@pytest.mark.parametrize(
    ("query", "tree"),
    [
        ("Yarmouk", "yarmouk"),
        ("  YARMŪK  ", "yarmuk"),
        ('"Red Crescent"', '"red crescent"'),
        ('"Red-Crescent"', '"red crescent"'),
        ("al-Yarmouk", '"al yarmouk"'),  # punctuation splits a bare word, as in text
        ("Palestin*", "palestin*"),
        ('"Red Cresc"*', '"red cresc*"'),
        ('"Red Cresc*"', '"red cresc*"'),
        ("a b", "(a AND b)"),
        ("a AND b", "(a AND b)"),
        ("a b c", "(a AND b AND c)"),
        ("a OR b", "(a OR b)"),
        ("a OR b OR c", "(a OR b OR c)"),
        ("-a", "-a"),
        ("NOT a", "-a"),
        ('-"Red Crescent"', '-"red crescent"'),
        ("-(a OR b)", "-(a OR b)"),
        ("a -b", "(a AND -b)"),
        ("a NOT b", "(a AND -b)"),
        ("a AND NOT b", "(a AND -b)"),
        ("(a OR b) c", "((a OR b) AND c)"),
        ("((a))", "a"),
        ("title:Yarmouk", "title:yarmouk"),
        ('title:"Red Crescent"', 'title:"red crescent"'),
        ("Title:a", "title:a"),
        ("summary:a content:b author:c", "(summary:a AND content:b AND author:c)"),
        ("category:Syria categories:Gaza", "(categories:syria AND categories:gaza)"),
        ("feed:telesur", "feed:telesur"),
        ("feed:al-jazeera", 'feed:"al jazeera"'),
        ("title:(a OR b)", "(title:a OR title:b)"),
        ("title:(a -b)", "(title:a AND -title:b)"),
        ("-title:a", "-title:a"),
        ("a NEAR/5 b", "(a NEAR/5 b)"),
        ('"Red Crescent" NEAR/0 camp*', '("red crescent" NEAR/0 camp*)'),
        ("title:a NEAR/2 title:b", "(title:a NEAR/2 title:b)"),
        ("10:30", '"10 30"'),  # not a field: digits
        ("and or near", "(and AND or AND near)"),  # lower case: words
        # precedence: OR < AND < NOT < NEAR < field scope
        ("a b OR c", "((a AND b) OR c)"),
        ("a OR b c", "(a OR (b AND c))"),
        ("a OR b AND c", "(a OR (b AND c))"),
        ("a AND b OR c AND d", "((a AND b) OR (c AND d))"),
        ("-a b", "(-a AND b)"),
        ("-a OR b", "(-a OR b)"),
        ("a NEAR/3 b c", "((a NEAR/3 b) AND c)"),
        ("-a NEAR/3 b", "-(a NEAR/3 b)"),
        ("x OR a NEAR/3 b", "(x OR (a NEAR/3 b))"),
        (
            '("Yarmouk" OR Yarmuk) AND (camp OR refugees) -football',
            "((yarmouk OR yarmuk) AND (camp OR refugees) AND -football)",
        ),
    ],
)
def test_parse(query: str, tree: str) -> None:
    assert show(parse_query(query)) == tree


def test_terms_keep_their_text_and_columns() -> None:
    node = parse_query('  title:"Red Crescent" Palestin*')
    assert isinstance(node, And)
    first, second = node.children
    assert isinstance(first, TermNode) and isinstance(second, TermNode)
    assert (first.term.raw, first.field, first.column) == ("Red Crescent", "title", 9)
    assert (second.term.raw, second.field, second.column) == ("Palestin*", None, 24)


@pytest.mark.parametrize(
    ("query", "column", "reason"),
    [
        ("", 1, "empty query"),
        ("   ", 1, "empty query"),
        ("(Yarmouk OR camp", 1, "unbalanced parenthesis"),
        ("Yarmouk (camp OR (refugees)", 9, "unbalanced parenthesis"),
        ("Yarmouk camp)", 13, "unbalanced parenthesis"),
        ("a OR b) c", 7, "unbalanced parenthesis"),
        ("()", 1, "empty parentheses"),
        ('Yarmouk "refugee camp', 9, "unterminated quote"),
        ('a ""', 3, "empty phrase"),
        ("a AND", 6, "'AND' must be followed by a term"),
        ("a OR", 5, "'OR' must be followed by a term"),
        ("a OR OR b", 6, "'OR' must be followed by a term"),
        ("a AND OR b", 7, "'AND' must be followed by a term"),
        ("a OR )", 6, "'OR' must be followed by a term"),
        ("OR a", 1, "'OR' must come between two terms"),
        ("AND a", 1, "'AND' must come between two terms"),
        ("NOT", 4, "'NOT' must be followed by a term"),
        ("a -", 3, "'-' must be followed by a term"),
        ("a -OR b", 4, "'-' must be followed by a term"),
        ("titel:Yarmouk", 1, "unknown field 'titel'"),
        ("a http://x", 3, "unknown field 'http'"),
        ("title: Yarmouk", 1, "'title:' must be followed by a term"),
        ("title:", 1, "'title:' must be followed by a term"),
        ("title:OR", 7, "'title:' must be followed by a term"),
        ("title:(a OR content:b)", 13, "field scopes cannot be nested"),
        ("a NEAR b", 3, "NEAR needs a distance"),
        ("a NEAR/ b", 3, "NEAR needs a distance"),
        ("a NEAR/1001 b", 3, "NEAR distance must be at most 1000"),
        ("NEAR/3 a", 1, "'NEAR/3' must come between two terms"),
        ("a NEAR/3", 9, "'NEAR/3' must be followed by a term"),
        ("(a OR b) NEAR/3 c", 1, "NEAR joins two terms"),
        ("a NEAR/3 (b OR c)", 10, "NEAR joins two terms"),
        ("a NEAR/3 -b", 10, "NEAR joins two terms"),
        ("a NEAR/3 b NEAR/3 c", 12, "join NEAR pairs with AND"),
        ("title:a NEAR/3 content:b", 9, "NEAR joins two terms in the same field"),
        ("Pal*stine", 1, "'*' is only allowed at the end of a term"),
        ("camp *", 6, "has no words to match"),
        ("a !!!", 3, "has no words to match"),
        ("(" * 70 + "a" + ")" * 70, 65, "nested too deeply"),
        ("-" * 70 + "a", 65, "nested too deeply"),
    ],
)
def test_errors_name_the_column(query: str, column: int, reason: str) -> None:
    with pytest.raises(QueryError) as caught:
        parse_query(query)
    assert caught.value.column == column
    assert reason in caught.value.reason
    assert str(caught.value).startswith(f"column {column}: ")


def test_query_error_is_a_value_error() -> None:
    assert issubclass(QueryError, ValueError)
    assert isinstance(parse_query("a OR b"), Or)
