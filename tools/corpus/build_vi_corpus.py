#!/usr/bin/python3
"""Build the Vietnamese demo corpus from the prose that Debian packages install.

Sources: `libreoffice-help-vi` (LibreOffice help pages, HTML) and `maint-guide-vi`
(Debian New Maintainers' Guide, XHTML). Files are found with `dpkg -L`, read in sorted
path order, markup is stripped block by block, text is NFC-normalised, paragraphs that
are mostly not Vietnamese are dropped, and every paragraph is kept only the first time
it appears. Output: one paragraph per line, documents separated by one empty line.

Usage: build_vi_corpus.py [OUTPUT]   (default artifacts/corpus/vi.txt)
"""
import html.parser
import os
import re
import subprocess
import sys
import unicodedata

PACKAGES = ("libreoffice-help-vi", "maint-guide-vi")
DEFAULT_OUTPUT = "artifacts/corpus/vi.txt"

# Elements whose text ends a paragraph (HTML block-level elements that hold prose).
BLOCK_TAGS = {"p", "h1", "h2", "h3", "h4", "h5", "h6", "li", "dt", "dd", "td", "th",
              "div", "caption", "blockquote", "tr", "table", "ul", "ol", "dl", "br"}
# Elements whose whole subtree is navigation, code or metadata rather than prose.
SKIP_TAGS = {"head", "script", "style", "header", "aside", "footer", "pre", "nav",
             "noscript", "button", "svg"}
# maint-guide (DocBook XSL) and LibreOffice help classes for tables of contents,
# navigation bars, debug boxes and "related topics" link lists.
SKIP_CLASSES = {"toc", "navheader", "navfooter", "debug", "relatedtopics", "related",
                "list-of-tables", "list-of-figures", "list-of-examples", "screen",
                "programlisting", "literallayout", "bug"}
# HTML void elements never get an end tag, so they are never pushed on the stack.
VOID_TAGS = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link",
             "meta", "param", "source", "track", "wbr"}


class ProseExtractor(html.parser.HTMLParser):
    """Collects the text of block elements of one HTML page, outside skipped subtrees."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.paragraphs = []
        self._stack = []  # (tag, skipped) for each open non-void element
        self._buffer = []

    def _skipping(self):
        return bool(self._stack) and self._stack[-1][1]

    def _flush(self):
        text = " ".join("".join(self._buffer).split())
        if text:
            self.paragraphs.append(text)
        self._buffer = []

    def handle_starttag(self, tag, attrs):
        if tag in BLOCK_TAGS:
            self._flush()
        if tag in VOID_TAGS:
            return
        classes = set((dict(attrs).get("class") or "").split())
        skipped = self._skipping() or tag in SKIP_TAGS or bool(classes & SKIP_CLASSES)
        self._stack.append((tag, skipped))

    def handle_startendtag(self, tag, attrs):
        if tag in BLOCK_TAGS:
            self._flush()

    def handle_endtag(self, tag):
        if tag in BLOCK_TAGS:
            self._flush()
        # Pop to the matching element; tolerate end tags of elements never opened.
        for depth in range(len(self._stack) - 1, -1, -1):
            if self._stack[depth][0] == tag:
                del self._stack[depth:]
                break

    def handle_data(self, data):
        if not self._skipping():
            self._buffer.append(data)

    def close(self):
        super().close()
        self._flush()


# Tone marks (combining, as they appear after NFD); the other Vietnamese diacritics
# (circumflex, breve, horn) belong to the vowel letter itself.
TONE_MARKS = "\u0300\u0301\u0303\u0309\u0323"
VIETNAMESE_LETTERS = set("ăâđêôơư")
SYLLABLE = re.compile(
    r"^(ngh|ng|nh|ch|gh|gi|kh|ph|qu|th|tr|[bcdđghklmnprstvx])?"
    r"[aăâeêioôơuưy]{1,3}"
    r"(ch|ng|nh|[cmnpt])?$")
WORD = re.compile(r"[^\W\d_]+")


def strip_tones(word):
    """Lower-cases a word and removes its tone marks; returns (base, tone count)."""
    decomposed = unicodedata.normalize("NFD", word.lower())
    tones = sum(1 for ch in decomposed if ch in TONE_MARKS)
    base = unicodedata.normalize("NFC", "".join(ch for ch in decomposed if ch not in TONE_MARKS))
    return base, tones


def is_vietnamese_syllable(word):
    base, tones = strip_tones(word)
    return tones <= 1 and SYLLABLE.match(base) is not None


def has_vietnamese_mark(word):
    base, tones = strip_tones(word)
    return tones > 0 or any(ch in VIETNAMESE_LETTERS for ch in base)


def is_mostly_vietnamese(text):
    """True when most words are Vietnamese syllables and enough carry Vietnamese marks.

    English shares many short syllable shapes ("to", "the"), so the syllable test alone
    would keep English; diacritics are what English never has.
    """
    words = WORD.findall(text)
    if len(words) < 3:
        return False
    syllables = sum(1 for w in words if is_vietnamese_syllable(w))
    marked = sum(1 for w in words if has_vietnamese_mark(w))
    return syllables >= 0.7 * len(words) and marked >= 0.3 * len(words)


def package_files(package):
    listing = subprocess.run(["dpkg", "-L", package], check=True, capture_output=True, text=True)
    return sorted(path for path in listing.stdout.splitlines()
                  if path.endswith(".html") and os.path.isfile(path))


def page_paragraphs(path):
    with open(path, encoding="utf-8", errors="replace") as page:
        extractor = ProseExtractor()
        extractor.feed(page.read())
        extractor.close()
    return [unicodedata.normalize("NFC", p) for p in extractor.paragraphs]


def build(output):
    seen = set()
    documents = []
    stats = {"files": 0, "paragraphs": 0, "not_vietnamese": 0, "duplicates": 0}
    for package in PACKAGES:
        for path in package_files(package):
            stats["files"] += 1
            kept = []
            for paragraph in page_paragraphs(path):
                stats["paragraphs"] += 1
                if not is_mostly_vietnamese(paragraph):
                    stats["not_vietnamese"] += 1
                elif paragraph in seen:
                    stats["duplicates"] += 1
                else:
                    seen.add(paragraph)
                    kept.append(paragraph)
            if kept:
                documents.append("\n".join(kept))
    os.makedirs(os.path.dirname(os.path.abspath(output)), exist_ok=True)
    with open(output, "w", encoding="utf-8", newline="\n") as corpus:
        corpus.write("\n\n".join(documents) + "\n")
    size = os.path.getsize(output)
    print(f"read {stats['files']} files, {stats['paragraphs']} paragraphs; dropped "
          f"{stats['not_vietnamese']} mostly non-Vietnamese, {stats['duplicates']} duplicates",
          file=sys.stderr)
    print(f"{output}: {size} bytes, {len(seen)} paragraphs, {len(documents)} documents")


if __name__ == "__main__":
    build(sys.argv[1] if len(sys.argv) > 1 else DEFAULT_OUTPUT)
