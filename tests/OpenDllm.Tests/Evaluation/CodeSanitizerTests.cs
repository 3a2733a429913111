using OpenDllm.Evaluation;

namespace OpenDllm.Tests.Evaluation;

/// <summary>The SPEC §7.2 sanitize step: longest parsable span, imports kept, definitions reachable from the entry point.</summary>
public sealed class CodeSanitizerTests
{
    readonly CodeSanitizer _sanitizer = new();

    [Fact]
    public void KeepsImportsAndReachableDefinitionsOnly()
    {
        var code = "import math\nfrom typing import List\n\nLIMIT = 10\nUNUSED = 3\n\ndef helper(x):\n    return math.sqrt(x) + LIMIT\n\n" +
                   "def unrelated():\n    return 0\n\ndef solve(xs: List[int]):\n    return [helper(x) for x in xs]\n\nprint(solve([1]))\nassert solve([]) == []\n";
        Assert.Equal("import math\nfrom typing import List\nLIMIT = 10\ndef helper(x):\n    return math.sqrt(x) + LIMIT\n" +
                     "def solve(xs: List[int]):\n    return [helper(x) for x in xs]", _sanitizer.Sanitize(code, "solve"));
    }

    [Fact]
    public void CutsToTheLongestParsableSpan()
    {
        var code = "def f(x):\n    return x * 2\n\nThis is prose the model added after the code (\n";
        Assert.Equal("def f(x):\n    return x * 2", _sanitizer.Sanitize(code, "f"));
    }

    [Fact]
    public void NormalisesTabsAndCrlfAndDropsFunctionsWithoutReturn()
    {
        Assert.Equal("def f(x):\n    return x", _sanitizer.Sanitize("def f(x):\r\n\treturn x\r\n", "f"));
        Assert.Equal("", _sanitizer.Sanitize("def f(x):\n    pass\n", "f"));
    }

    [Fact]
    public void WithoutEntryPointKeepsEveryDefinitionOnceAndDecoratorsStay()
    {
        var code = "import functools\n@functools.lru_cache(None)\ndef fib(n):\n    return n if n < 2 else fib(n - 1) + fib(n - 2)\n" +
                   "def fib(n):\n    return 0\nclass A:\n    pass\nfib(3)\n";
        Assert.Equal("import functools\n@functools.lru_cache(None)\ndef fib(n):\n    return n if n < 2 else fib(n - 1) + fib(n - 2)\nclass A:\n    pass",
            _sanitizer.Sanitize(code, null));
    }

    [Fact]
    public void HumanEvalPostProcessCutsAtStopsThenSanitizes()
    {
        var problem = new BenchmarkProblem(BenchmarkTask.HumanEval, "HumanEval/x", "def inc(x):\n    \"\"\"Add one.\"\"\"\n", "", "", EntryPoint: "inc");
        var prediction = PromptFormats.HumanEvalPostProcess(problem, "    return x + 1\n\nif __name__ == '__main__':\n    print(inc(2))\n", _sanitizer);
        Assert.Equal("def inc(x):\n    \"\"\"Add one.\"\"\"\n\n    return x + 1", prediction);
    }
}
