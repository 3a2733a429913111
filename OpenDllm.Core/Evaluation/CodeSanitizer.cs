using System.Diagnostics;
using System.Text.Json;

namespace OpenDllm.Evaluation;

/// <summary>
/// The <c>sanitize(code, entry_point)</c> step of SPEC §7.2 (Open-dLLM / evalplus post-processing), our own
/// implementation on Python's <c>ast</c> module: normalise CRLF and tabs; keep the longest span of lines (within the
/// first <see cref="MaxLines"/>) that parses, counting non-blank lines; from it keep every top-level import, and the
/// first definition of each name among classes, functions that contain a <c>return</c>, and assignments; when an entry
/// point is given, keep only definitions reachable from it through the names they use. Other statements (tests,
/// prints, <c>if __name__ …</c>) are dropped. Decorators stay with their definition.
/// The code is only parsed, never executed, in one <c>python3 -I</c> process per batch.
/// </summary>
public sealed class CodeSanitizer(string python = "python3", int maxLines = 100)
{
    /// <summary>Only the first this-many lines are searched for a valid span.</summary>
    public int MaxLines { get; } = maxLines;

    /// <summary>Sanitizes one program.</summary>
    public string Sanitize(string code, string? entryPoint) => SanitizeAll([(code, entryPoint)])[0];

    /// <summary>Sanitizes many programs in one interpreter; the result has the input's order.</summary>
    public IReadOnlyList<string> SanitizeAll(IReadOnlyList<(string Code, string? EntryPoint)> items)
    {
        if (items.Count == 0) return [];
        var info = new ProcessStartInfo(python)
        {
            RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
        };
        foreach (var a in new[] { "-I", "-c", Script, MaxLines.ToString() }) info.ArgumentList.Add(a);
        using var process = Process.Start(info) ?? throw new InvalidOperationException($"{python} did not start");
        var stderr = process.StandardError.ReadToEndAsync();
        var stdout = process.StandardOutput.ReadToEndAsync();
        foreach (var (code, entry) in items)
            process.StandardInput.WriteLine(JsonSerializer.Serialize(new[] { code, entry ?? "" }));
        process.StandardInput.Close();
        if (!process.WaitForExit(TimeSpan.FromSeconds(60 + items.Count)))
        {
            process.Kill(entireProcessTree: true);
            throw new InvalidOperationException("sanitize: python3 did not finish");
        }
        if (process.ExitCode != 0) throw new InvalidOperationException($"sanitize: python3 failed: {stderr.Result.Trim()}");
        var lines = stdout.Result.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        if (lines.Length != items.Count) throw new InvalidOperationException($"sanitize: expected {items.Count} results, got {lines.Length}");
        return lines.Select(l => JsonSerializer.Deserialize<string>(l)!).ToArray();
    }

    const string Script = """
import ast, json, sys
MAX_LINES = int(sys.argv[1])
def parses(text):
    try:
        ast.parse(text); return True
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return False
def longest_valid_span(code):
    lines = code.split("\n")[:MAX_LINES]
    weight = [0]
    for line in lines: weight.append(weight[-1] + (1 if line.strip() else 0))
    best, best_weight = "", 0
    for i in range(len(lines)):
        if weight[len(lines)] - weight[i] <= best_weight: break
        for j in range(len(lines), i, -1):
            w = weight[j] - weight[i]
            if w <= best_weight: break
            text = "\n".join(lines[i:j])
            if parses(text):
                best, best_weight = text, w
                break
    return best
def has_return(node):
    return any(isinstance(n, ast.Return) for n in ast.walk(node))
def defined_names(node):
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)): return [node.name]
    targets = node.targets if isinstance(node, ast.Assign) else [node.target]
    return [n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)]
def segment(lines, node):
    start = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
    return "\n".join(lines[start - 1:node.end_lineno])
def sanitize(code, entry):
    code = code.replace("\r\n", "\n").replace("\r", "\n").replace("\t", "    ")
    code = longest_valid_span(code)
    if not code: return ""
    tree, lines = ast.parse(code), code.split("\n")
    imports, definitions, taken = [], [], set()
    for node in tree.body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            imports.append(node); continue
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and not has_return(node): continue
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Assign, ast.AnnAssign)): continue
        names = [n for n in defined_names(node) if n not in taken]
        if not names: continue
        taken.update(names)
        used = {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}
        definitions.append((names, used, node))
    keep = set(range(len(definitions)))
    if entry:
        deps = {}
        for index, (names, used, _) in enumerate(definitions):
            for name in names: deps[name] = (index, used)
        keep, stack, seen = set(), [entry], set()
        while stack:
            name = stack.pop()
            if name in seen or name not in deps: continue
            seen.add(name)
            index, used = deps[name]
            keep.add(index)
            stack.extend(used)
    parts = [segment(lines, n) for n in imports]
    parts += [segment(lines, node) for index, (_, _, node) in enumerate(definitions) if index in keep]
    return "\n".join(parts)
for line in sys.stdin:
    code, entry = json.loads(line)
    try: result = sanitize(code, entry)
    except Exception: result = ""
    sys.stdout.write(json.dumps(result) + "\n")
""";
}
