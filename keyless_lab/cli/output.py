"""The Azure CLI's ``--query`` (JMESPath) and ``--output json|jsonc|tsv|none``, formatted as knack, the
CLI's framework, formats them: JSON with sorted keys and two-space indent; TSV one row per item.

https://learn.microsoft.com/cli/azure/format-output-azure-cli , https://learn.microsoft.com/cli/azure/query-azure-cli
"""

from __future__ import annotations

import json
from typing import Any

from .transport import CliError

OUTPUTS = ("json", "jsonc", "none", "table", "tsv", "yaml", "yamlc")
SUPPORTED_OUTPUTS = ("json", "jsonc", "none", "tsv")


def check_output(output: str) -> None:
    if output not in OUTPUTS:
        choices = ", ".join(f"'{o}'" for o in OUTPUTS)
        raise CliError(f"argument --output/-o: invalid choice: '{output}' (choose from {choices})", exit_code=2)
    if output not in SUPPORTED_OUTPUTS:
        raise CliError(f"--output {output} is outside the Go Keyless lab; use json, tsv or none.", exit_code=2)


def apply_query(result: Any, query: str | None) -> Any:
    if not query:
        return result
    import jmespath  # only commands given --query pay for it

    try:
        return jmespath.search(query, result)
    except jmespath.exceptions.JMESPathError:
        raise CliError(f"argument --query: invalid jmespath_type value: '{query}'", exit_code=2) from None


def _tsv_cell(value: Any) -> str:
    if isinstance(value, list):
        return str(len(value))
    if isinstance(value, dict) or value is None:
        return ""
    return value if isinstance(value, str) else str(value)


def _tsv_row(value: Any) -> str:
    if isinstance(value, dict):
        return "\t".join(_tsv_cell(v) for _, v in sorted(value.items()))
    if isinstance(value, list):
        return "\t".join(_tsv_cell(v) for v in value)
    return _tsv_cell(value)


def render(result: Any, output: str) -> str:
    """The text the CLI prints for ``result`` (after ``--query``)."""
    if output == "none" or result is None:
        return ""
    if output == "tsv":
        rows = result if isinstance(result, list) else [result]
        return "".join(_tsv_row(row) + "\n" for row in rows)
    return json.dumps(result, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
