"""The syntax tree of a Traefik router rule (traefik_rules.py parses and checks rules into it,
traefik_match.py evaluates it): matchers, ``!``, ``&&``, ``||``, and the rule with its priority."""

from __future__ import annotations

from dataclasses import dataclass

from .traefik_version import RuleSyntax


class RuleError(ValueError):
    """A rule Traefik would refuse; ``column`` is 1-based in the rule string (0: whole rule)."""

    def __init__(self, message: str, column: int = 0) -> None:
        super().__init__(f"column {column}: {message}" if column else message)
        self.column = column
        self.reason = message


@dataclass(frozen=True)
class Matcher:
    name: str  # canonical spelling: "PathPrefix"
    args: tuple[str, ...]
    column: int


@dataclass(frozen=True)
class Not:
    expr: Node


@dataclass(frozen=True)
class And:
    left: Node
    right: Node


@dataclass(frozen=True)
class Or:
    left: Node
    right: Node


Node = Matcher | Not | And | Or


@dataclass(frozen=True)
class Rule:
    text: str
    syntax: RuleSyntax
    tree: Node
    wildcards: bool = True  # Host(`*.example`) matches one label: Traefik 3.7 and later

    @property
    def priority(self) -> int:
        return priority(self.text)

    def hosts(self) -> list[str]:
        """Exact hosts named by Host()/HostHeader() anywhere in the rule, lowercased."""
        return [
            a.lower() for m in walk(self.tree) if m.name in ("Host", "HostHeader") for a in m.args
        ]


def priority(rule: str) -> int:
    return len(rule.encode("utf-8"))


def walk(node: Node) -> list[Matcher]:
    if isinstance(node, Matcher):
        return [node]
    if isinstance(node, Not):
        return walk(node.expr)
    return walk(node.left) + walk(node.right)
