"""Writes one section of docs/PERFORMANCE.md from measured results.

    report.py SECTION MARKDOWN_FILE

Replaces the text between `<!-- SECTION:begin -->` and `<!-- SECTION:end -->` in
docs/PERFORMANCE.md (appending the section if it is not there yet).
"""
import pathlib
import re
import sys


def main():
    section, body_file = sys.argv[1], sys.argv[2]
    doc = pathlib.Path(__file__).resolve().parents[2] / "docs" / "PERFORMANCE.md"
    body = pathlib.Path(body_file).read_text().rstrip() + "\n"
    begin, end = f"<!-- {section}:begin -->", f"<!-- {section}:end -->"
    text = doc.read_text() if doc.exists() else "# Performance\n"
    block = f"{begin}\n{body}{end}"
    pattern = re.compile(re.escape(begin) + ".*?" + re.escape(end), re.S)
    text = pattern.sub(lambda _: block, text) if pattern.search(text) else text.rstrip() + "\n\n" + block + "\n"
    doc.write_text(text)
    print(f"updated section '{section}' of {doc}")


if __name__ == "__main__":
    main()
