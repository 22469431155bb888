"""Surgical YAML edits: nodes located by the parse tree, changed as text splices, so that
every byte outside the edited nodes stays (see docs/yaml-edits.md)."""

from .emit import FlowMap, FlowSeq, Quoted
from .errors import YamlError
from .loader import parse_strict
from .text import Span, YamlText

__all__ = ["FlowMap", "FlowSeq", "Quoted", "Span", "YamlError", "YamlText", "parse_strict"]
