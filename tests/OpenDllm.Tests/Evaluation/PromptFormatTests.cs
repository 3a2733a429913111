using OpenDllm.Evaluation;

namespace OpenDllm.Tests.Evaluation;

public sealed class PromptFormatTests
{
    static readonly BenchmarkProblem Mbpp = new(BenchmarkTask.MbppSanitized, "2", "Write a function to add.", "def add(a, b):\n    return a + b",
        "assert add(1, 2) == 3\nassert add(0, 0) == 0\nassert add(-1, 1) == 0\nassert add(2, 2) == 4",
        TestList: ["assert add(1, 2) == 3", "assert add(0, 0) == 0", "assert add(-1, 1) == 0", "assert add(2, 2) == 4"],
        TestSetup: "import math");

    static readonly BenchmarkProblem HumanEval = new(BenchmarkTask.HumanEval, "HumanEval/x", "def inc(x):\n    \"\"\"Add one.\"\"\"\n",
        "    return x + 1\n", "def check(candidate):\n    assert candidate(1) == 2\n", EntryPoint: "inc");

    [Fact]
    public void MbppPromptHasThreeTestsAndNoNewlineBeforeTheFence() =>
        Assert.Equal("Write a function to add. Your code should pass these tests:\n\n" +
                     "assert add(1, 2) == 3\nassert add(0, 0) == 0\nassert add(-1, 1) == 0```python\n", PromptFormats.MbppPrompt(Mbpp));

    [Fact]
    public void StopSequencesSplitAtTheFirstOccurrence()
    {
        var text = "    return x + 1\n\nprint(inc(1))\ndef other():\n    pass";
        Assert.Equal("    return x + 1\n", PromptFormats.TruncateAtStops(text, PromptFormats.HumanEvalStops));
        Assert.Equal("abc", PromptFormats.TruncateAtStops("abc", PromptFormats.HumanEvalStops));
        Assert.Equal("def f():\n    return 1\ndef g():\n    return 2",
            PromptFormats.TruncateAtStops("def f():\n    return 1\ndef g():\n    return 2\nif True:\n    pass", PromptFormats.MbppStops));
    }

    [Fact]
    public void MbppPostProcessStripsAndRemovesFences() =>
        Assert.Equal("def add(a, b):\n    return a + b\n", PromptFormats.MbppPostProcess("\ndef add(a, b):\n    return a + b\n```\n\n# done"));

    [Fact]
    public void ProgramsAreAssembledAsTheOfficialHarnesses()
    {
        Assert.Equal(HumanEval.Prompt + "    return x + 1\n" + "\n" + HumanEval.Test + "\n" + "check(inc)\n",
            ProgramBuilder.Build(HumanEval, "    return x + 1\n"));
        var infill = HumanEval with { Task = BenchmarkTask.HumanEvalInfillSingleLine, Prompt = "def inc(x):\n", Suffix = "    return y\n" };
        Assert.Equal("def inc(x):\n    y = x + 1\n    return y\n\n" + HumanEval.Test + "\ncheck(inc)\n", ProgramBuilder.Build(infill, "    y = x + 1\n"));
        Assert.Equal("import math\n" + Mbpp.CanonicalSolution + "\n" + Mbpp.Test + "\n", ProgramBuilder.Build(Mbpp, Mbpp.CanonicalSolution));
        var full = Mbpp with { Task = BenchmarkTask.Mbpp, TestSetup = "root = Node(1)" };
        Assert.Equal("class Node: pass\nroot = Node(1)\n" + Mbpp.Test + "\n", ProgramBuilder.Build(full, "class Node: pass"));
    }
}
