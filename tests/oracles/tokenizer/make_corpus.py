#!/usr/bin/env python3
"""Writes the tokenizer comparison corpus: 1,000 byte strings, one per line, hex-encoded
(tests/data/tokenizer/corpus.hex). Deterministic (fixed seed): mixed scripts, whitespace
runs, digits, emoji (with ZWJ sequences and modifiers), control characters, invalid UTF-8
(lone continuation bytes, truncated sequences, 0xFE/0xFF, overlongs) and special-token
lookalikes. Surrogates and sequences decoding past U+10FFFF (e.g. F4 90 80 80) are left
out: llama.cpp keeps surrogates, and aborts (std::terminate, "invalid codepoint") on the
latter; jetserve turns both into U+FFFD.

    python3 tests/oracles/tokenizer/make_corpus.py
"""
import os
import random

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "..", "data", "tokenizer", "corpus.hex")

WORDS = [
    "Hello", "world", "the", "The", "tokenizer", "don't", "I'm", "you'll", "we've", "they'RE",
    "it's", "HELLO", "camelCaseWord", "snake_case_name", "Führer", "naïve", "café", "Ångström",
    "Cửa", "Việt", "нещо", "на", "Български", "Привет", "мир", "Γειά", "σου", "κόσμε",
    "日本語", "中文", "我想在apple工作", "東京タワー", "カタカナ", "ひらがな", "한국어", "안녕하세요",
    "العربية", "مرحبا", "עברית", "שלום", "हिन्दी", "नमस्ते", "ภาษาไทย", "สวัสดี", "កាន់តែពិសេស",
    "ქართული", "Հայերեն", "አማርኛ", "ᚠᚢᚦ", "𝔘𝔫𝔦𝔠𝔬𝔡𝔢", "ﬁnance", "Ｆｕｌｌｗｉｄｔｈ", "½", "²³", "Ⅻ",
    "x86_64", "C++20", "std::vector<int>", "foo.bar()", "a->b", "i+=1;", "#include", "0x7FFF",
    "https://example.com/a?b=c&d=e", "user@example.org", "$100.00", "3.14159", "1,234,567",
    "e̊", "ñ", "n\u0303", "Å", "A\u030a", "ǅ", "ß", "İstanbul", "ΣΑΣ",
]
EMOJI = ["🦙", "🚀", "😁", "😶‍🌫️", "👩‍👩‍👧‍👦", "👍🏽", "🇯🇵", "✅", "❤️", "🤖", "1️⃣", "🏳️‍🌈"]
SPACES = [" ", "  ", "   ", "\t", "\n", "\n\n", "\r\n", " \n ", "\u00a0", "\u3000", "\u2028",
          "\u2003", "\t\t", "\n\n\n", "    ", " \t\n", "\u000b", "\u000c", "\u0085"]
PUNCT = ["!", "!!!!!!", "?", "...", "…", "—", "–", "(", ")", "[", "]", "{", "}", "'", "\"",
         "`", "~", "^", "|", "\\", "/", "@", "#", "%", "&", "*", "-", "_", "=", "+", "<", ">",
         ",", ";", ":", "。", "、", "！", "？", "«", "»", "¿", "¡", "'s", "'ll", "'d"]
CONTROLS = ["\x00", "\x01", "\x07", "\x08", "\x1b", "\x1f", "\x7f", "\u200b", "\u200d", "\ufeff",
            "\u00ad", "\u202e", "\u2060", "\ufffd"]
SPECIALS = ["<s>", "</s>", "<unk>", "<pad>", "<|endoftext|>", "<|im_start|>", "<|im_end|>",
            "<|im_start|>user\n", "<|eot_id|>", "<start_of_turn>", "<end_of_turn>", "<bos>",
            "<eos>", "[CLS]", "[SEP]", "[MASK]", "[PAD]", "[UNK]", "<mask>", "<0x0A>", "<0xFF>",
            "<|im_", "im_end|>", "< s>", "<s >", "<<s>>", "</s></s>", "<fim_prefix>",
            "<|begin_of_text|>", "▁", "▁▁", "Ġ", "Ċ", "##ing", ">>TITLE<<"]
INVALID = [b"\x80", b"\xbf", b"\xc3", b"\xe2\x82", b"\xf0\x9f\x98", b"\xfe", b"\xff",
           b"\xc0\x80", b"\xc1\xbf", b"\xe0\x80\x80", b"\xf8\x88\x80\x80\x80",
           b"\xa0\xa1", b"\xed\x9f\xbf"]


def digits(rng):
    n = rng.choice([1, 2, 3, 4, 5, 6, 7, 8, 9, 12, 20])
    return "".join(rng.choice("0123456789") for _ in range(n))


def fragment(rng):
    kind = rng.choices(
        ["word", "emoji", "space", "punct", "control", "special", "invalid", "digits"],
        weights=[30, 6, 18, 12, 4, 8, 5, 10])[0]
    if kind == "word":
        return rng.choice(WORDS).encode()
    if kind == "emoji":
        return rng.choice(EMOJI).encode()
    if kind == "space":
        return rng.choice(SPACES).encode()
    if kind == "punct":
        return rng.choice(PUNCT).encode()
    if kind == "control":
        return rng.choice(CONTROLS).encode()
    if kind == "special":
        return rng.choice(SPECIALS).encode()
    if kind == "invalid":
        return rng.choice(INVALID)
    return digits(rng).encode()


def main():
    rng = random.Random(20261128)
    corpus = [b"", b" ", b"  ", b"\n", b"\t", b"a", b" a", b"Hello world", b" Hello world",
              b"<s>", b"<|endoftext|>", b"\xff", b"\x80abc", b"abc\xe2\x82", b"3333333",
              b"\xf0\x9f\xa6\x99"]
    while len(corpus) < 1000:
        n = rng.randint(1, 12)
        parts = [fragment(rng) for _ in range(n)]
        # Sometimes glue fragments with spaces, as real text has.
        glue = rng.choice([b"", b" ", b" ", b"\n"])
        corpus.append(glue.join(parts))
    with open(OUT, "w") as f:
        for s in corpus:
            f.write(s.hex() + "\n")
    print(f"wrote {len(corpus)} strings to {os.path.normpath(OUT)}")


if __name__ == "__main__":
    main()
