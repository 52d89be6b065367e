"""Previews: a bounded look at a file, whatever its type, without reading all of it.

Every reader here takes bytes the service already read (a head, a tail) or a
file object on the thread pool (Parquet, whose schema sits in the footer), so
the work per preview is bounded by ``max_bytes`` (and the format's own limits).
"""

from __future__ import annotations

import base64
import codecs
import csv
import datetime as dt
import decimal
import io
import json
import math
import mimetypes
from typing import Any

DEFAULT_MAX_BYTES = 64 << 10
MAX_MAX_BYTES = 1 << 20
MAX_JSON_FILE = 4 << 20  # parsed whole to pretty-print; bigger JSON is shown as text
MAX_NOTEBOOK_FILE = 16 << 20
MAX_IMAGE_FILE = 4 << 20  # inline as a data URL; bigger images: use the download
PREVIEW_ROWS = 20

TEXT_EXTENSIONS = {
    ".txt", ".log", ".md", ".rst", ".py", ".yaml", ".yml", ".toml", ".cfg", ".ini", ".sh",
    ".out", ".err", ".jsonl", ".ndjson", ".xml", ".html", ".svg", ".js", ".ts", ".sql", ".r",
    ".dockerfile", ".env", ".conf",
}
IMAGE_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg",
               ".gif": "image/gif", ".webp": "image/webp", ".bmp": "image/bmp"}


def kind_of(name: str) -> str:
    lower = name.lower()
    ext = lower[lower.rfind("."):] if "." in lower else ""
    if ext == ".json":
        return "json"
    if ext in (".csv", ".tsv"):
        return "csv"
    if ext in (".parquet", ".pq"):
        return "parquet"
    if ext in IMAGE_TYPES:
        return "image"
    if ext == ".ipynb":
        return "notebook"
    if ext in TEXT_EXTENSIONS:
        return "text"
    return "unknown"  # sniffed from its first bytes


def mime_of(name: str) -> str:
    lower = name.lower()
    ext = lower[lower.rfind("."):] if "." in lower else ""
    return IMAGE_TYPES.get(ext) or mimetypes.guess_type(name)[0] or "application/octet-stream"


def looks_binary(data: bytes) -> bool:
    if b"\x00" in data[:8192]:
        return True
    try:
        codecs.getincrementaldecoder("utf-8")().decode(data[:8192], final=False)
        return False
    except UnicodeDecodeError:
        return True


def decode_head(data: bytes) -> str:
    # final=False drops a multi-byte character cut by the byte limit instead of garbling it
    return codecs.getincrementaldecoder("utf-8")(errors="replace").decode(data, final=False)


def decode_tail(data: bytes) -> str:
    # skip UTF-8 continuation bytes a cut left at the start
    start = 0
    while start < min(len(data), 4) and 0x80 <= data[start] < 0xC0:
        start += 1
    return data[start:].decode("utf-8", errors="replace")


def text_preview(head: bytes, tail: bytes | None) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "text", "text": decode_head(head)}
    if tail is not None:
        out["tail"] = decode_tail(tail)
    return out


def json_preview(data: bytes, max_bytes: int) -> dict[str, Any]:
    try:
        value = json.loads(data)
    except ValueError:
        return {**text_preview(data[:max_bytes], None), "type": "json",
                "message": "Not valid JSON: shown as text."}
    pretty = json.dumps(value, indent=2, ensure_ascii=False, default=str)
    encoded = pretty.encode("utf-8")
    return {"type": "json", "text": decode_head(encoded[:max_bytes]),
            "truncated": len(encoded) > max_bytes}


def csv_preview(head: bytes, complete: bool, delimiter: str) -> dict[str, Any]:
    if not complete:
        head = head[: head.rfind(b"\n") + 1] or head  # whole lines only
    try:
        import pyarrow as pa
        import pyarrow.csv as pacsv
    except ImportError:
        pa = None
    if pa is not None:
        try:
            table = pacsv.read_csv(io.BytesIO(head),
                                   parse_options=pacsv.ParseOptions(delimiter=delimiter))
            return {"type": "csv",
                    "columns": [{"name": f.name, "type": str(f.type)} for f in table.schema],
                    "rows": _rows(table.slice(0, PREVIEW_ROWS)),
                    "truncated": not complete or table.num_rows > PREVIEW_ROWS}
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, UnicodeDecodeError):
            pass  # ragged or odd CSV: the csv module is more forgiving
    reader = csv.reader(io.StringIO(decode_head(head)), delimiter=delimiter)
    rows = [row for _, row in zip(range(PREVIEW_ROWS + 1), reader)]
    header, body = (rows[0], rows[1:]) if rows else ([], [])
    return {"type": "csv", "columns": [{"name": h, "type": "string"} for h in header],
            "rows": body, "truncated": True}


def parquet_preview(fileobj: Any) -> dict[str, Any]:
    """Schema and first rows; runs on the thread pool (pyarrow reads footer + first batch)."""
    try:
        import pyarrow.parquet as pq
    except ImportError:
        return {"type": "parquet",
                "message": "Parquet previews need pyarrow: pip install pyarrow (ray[data] has it)."}
    with fileobj:
        pf = pq.ParquetFile(fileobj)
        schema = pf.schema_arrow
        rows: list[list[Any]] = []
        if pf.metadata.num_rows:
            batch = next(pf.iter_batches(batch_size=PREVIEW_ROWS), None)
            if batch is not None:
                import pyarrow as pa

                rows = _rows(pa.Table.from_batches([batch]))
        return {"type": "parquet",
                "columns": [{"name": f.name, "type": str(f.type)} for f in schema],
                "rows": rows, "num_rows": pf.metadata.num_rows,
                "num_row_groups": pf.metadata.num_row_groups,
                "truncated": pf.metadata.num_rows > len(rows)}


def _rows(table: Any) -> list[list[Any]]:
    columns = [table.column(i).to_pylist() for i in range(table.num_columns)]
    return [[jsonable(v) for v in row] for row in zip(*columns)]


def image_preview(name: str, data: bytes | None, size: int) -> dict[str, Any]:
    if data is None:
        return {"type": "image", "mime": mime_of(name), "data_url": None,
                "message": f"Image larger than {MAX_IMAGE_FILE >> 20} MiB: download it to view."}
    encoded = base64.b64encode(data).decode("ascii")
    return {"type": "image", "mime": mime_of(name),
            "data_url": f"data:{mime_of(name)};base64,{encoded}"}


def notebook_preview(data: bytes, max_bytes: int) -> dict[str, Any]:
    try:
        nb = json.loads(data)
        cells = nb["cells"]
    except (ValueError, KeyError, TypeError):
        return {**text_preview(data[:max_bytes], None), "type": "notebook",
                "message": "Not a valid notebook: shown as text."}
    meta = nb.get("metadata") or {}
    kernel = (meta.get("kernelspec") or {}).get("display_name") or "unknown kernel"
    language = (meta.get("language_info") or {}).get("name") or \
        (meta.get("kernelspec") or {}).get("language") or "unknown"
    counts: dict[str, int] = {}
    parts = []
    for index, cell in enumerate(cells, 1):
        ctype = cell.get("cell_type", "?")
        counts[ctype] = counts.get(ctype, 0) + 1
        label = f"In [{cell.get('execution_count') or ' '}]" if ctype == "code" else ctype
        parts.append(f"--- cell {index}: {label} ---\n{_source(cell.get('source'))}")
        for output in cell.get("outputs") or []:
            parts.append(_output_text(output))
    header = f"{kernel} ({language}), {len(cells)} cells: " + \
        ", ".join(f"{n} {t}" for t, n in sorted(counts.items()))
    text = header + "\n\n" + "\n".join(p for p in parts if p)
    encoded = text.encode("utf-8")
    return {"type": "notebook", "text": decode_head(encoded[:max_bytes]),
            "truncated": len(encoded) > max_bytes, "kernel": kernel, "language": language,
            "cells": len(cells)}


def _source(value: Any) -> str:
    return "".join(value) if isinstance(value, list) else str(value or "")


def _output_text(output: dict[str, Any]) -> str:
    otype = output.get("output_type")
    if otype == "stream":
        return "[out] " + _source(output.get("text")).rstrip()
    if otype == "error":
        return f"[error] {output.get('ename')}: {output.get('evalue')}"
    data = output.get("data") or {}
    if "text/plain" in data:
        return "[out] " + _source(data["text/plain"]).rstrip()
    if data:
        return "[out] " + ", ".join(f"<{mime}>" for mime in data)
    return ""


def jsonable(value: Any) -> Any:
    """Values as strict JSON can carry them (browsers reject NaN; bytes and dates are strings)."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(bytes(value[:64])).decode("ascii") + ("..." if len(value) > 64
                                                                      else "")
    if isinstance(value, decimal.Decimal):
        return str(value)
    return str(value)
