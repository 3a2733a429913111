using System.Diagnostics;
using System.Text.RegularExpressions;
using OpenDllm.Cli.Commands;
using OpenDllm.Sampling;
using Xunit.Abstractions;

namespace OpenDllm.Tests.Cli;

/// <summary>
/// `sample|infill --live`: the frames (masks dim, this step's tokens highlighted, a canvas whose length changes), and the
/// real CLI under a pseudo-terminal (`script`), whose captured output is checked frame by frame; without a terminal the
/// output is today's plain text.
/// </summary>
public sealed partial class LiveViewTests(TinyCheckpoint checkpoint, ITestOutputHelper output) : IClassFixture<TinyCheckpoint>
{
    const long M = 99;

    static LiveCanvasView View() => new(id => id switch { 1 => "a", 2 => "[b]", 3 => "\n", _ => $"<{id}>" }, "test");

    [Fact]
    public void FramesDimMasksAndHighlightThisStepsTokens()
    {
        var view = View();
        var first = view.Markup(new SamplingStepView(0, [[1, M, M, M]], [], M, 0));
        Assert.Equal(3, Regex.Matches(first, Regex.Escape("[dim]" + LiveCanvasView.MaskGlyph + "[/]")).Count);
        Assert.Contains("step [bold]0[/]", first);
        Assert.Contains("3 masked", first);

        var second = view.Markup(new SamplingStepView(1, [[1, 2, M, M]], [new TokenEvent(0, 1, 2, 0.9f)], M, 1));
        Assert.Contains("a[black on yellow][[b]][/]", second);                 // markup in token text is escaped
        Assert.Contains("+1 tokens", second);
        var third = view.Markup(new SamplingStepView(2, [[1, 2, 3, 1]], [new TokenEvent(0, 2, 3, 0.8f), new TokenEvent(0, 3, 1, 0.7f)], M, 2));
        Assert.Contains("a[green][[b]][/][black on yellow]\n[/][black on yellow]a[/]", third);   // earlier commits green
        Assert.Contains("0 masked", third);
        new Spectre.Console.Markup(third);                                      // valid markup
    }

    [Fact]
    public void ACanvasThatChangesLengthRedrawsFromTheStepsCanvas()
    {
        var view = View();
        view.Markup(new SamplingStepView(0, [[1, M, M]], [], M, 0));
        view.Markup(new SamplingStepView(1, [[1, 2, M]], [new TokenEvent(0, 1, 2, 1f)], M, 1));
        var longer = view.Markup(new SamplingStepView(2, [[1, 2, M, M, M]], [], M, 2));            // an <expand> grew the gap
        Assert.Equal(3, Regex.Matches(longer, Regex.Escape(LiveCanvasView.MaskGlyph)).Count);
        var shorter = view.Markup(new SamplingStepView(3, [[1]], [new TokenEvent(0, 0, 1, 1f)], M, 3));  // a <delete> shrank it
        Assert.DoesNotContain(LiveCanvasView.MaskGlyph, shorter);
        Assert.EndsWith("[black on yellow]a[/]", shorter);
        new Spectre.Console.Markup(shorter);
    }

    /// <summary>The CLI built beside these tests (same configuration).</summary>
    static string CliDll()
    {
        var configuration = AppContext.BaseDirectory.Contains($"{Path.DirectorySeparatorChar}Debug{Path.DirectorySeparatorChar}") ? "Debug" : "Release";
        var dll = Path.Combine(TestPaths.RepoRoot, "OpenDllm.Cli", "bin", configuration, "net10.0", "opendllm.dll");
        Assert.True(File.Exists(dll), $"{dll} is missing: build the solution ({configuration}) first");
        return dll;
    }

    static string Quote(string s) => "'" + s.Replace("'", "'\\''") + "'";

    static (int Code, string Out, string Err) Start(string file, IEnumerable<string> arguments)
    {
        var info = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true };
        foreach (var a in arguments) info.ArgumentList.Add(a);
        info.Environment["TERM"] = "xterm-256color";
        info.Environment.Remove("NO_COLOR");
        using var process = Process.Start(info)!;
        process.StandardInput.Close();
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        process.WaitForExit();
        return (process.ExitCode, stdout.GetAwaiter().GetResult(), stderr.GetAwaiter().GetResult());
    }

    [GeneratedRegex(@"\x1b\[[0-9;?]*[A-Za-z]")]
    private static partial Regex Ansi();

    [Fact]
    public void UnderAPseudoTerminalEveryStepIsAFrameAndThePipedOutputStaysPlain()
    {
        string[] args = ["sample", checkpoint.Path, "--prompt", "def f(", "--length", "12", "--steps", "4", "--seed", "3"];
        var command = $"stty cols 100 rows 40 2>/dev/null; exec dotnet {Quote(CliDll())} {string.Join(" ", args.Select(Quote))} --live";
        var (code, tty, err) = Start("script", ["-qec", command, "/dev/null"]);
        output.WriteLine(tty + err);
        Assert.Equal(0, code);
        Assert.Contains("\x1b[2m", tty, StringComparison.Ordinal);                                          // masks dim (SGR 2)
        var plain = Ansi().Replace(tty, "");
        var frames = Regex.Split(plain, @"(?=maskgit_plus  step \d+ )").Where(f => f.StartsWith("maskgit_plus  step", StringComparison.Ordinal)).ToList();
        Assert.Equal(Enumerable.Range(0, 5).Select(i => $"step {i} "), frames.Select(f => Regex.Match(f, @"step \d+ ").Value).Distinct());
        var initial = frames.First(f => f.StartsWith("maskgit_plus  step 0 ", StringComparison.Ordinal));
        Assert.Contains("12 masked", initial);
        Assert.Equal(12, initial.Count(c => c.ToString() == LiveCanvasView.MaskGlyph));   // one glyph per masked position
        Assert.Contains("def f(", initial);
        var last = frames.Last(f => f.StartsWith("maskgit_plus  step 4 ", StringComparison.Ordinal));
        Assert.Contains("0 masked", last);
        Assert.Contains("4 forwards", last);

        // piped: today's plain output (the same text), a note on stderr, no escape codes
        var (pipedCode, piped, pipedErr) = Start("dotnet", [CliDll(), .. args, "--live"]);
        Assert.Equal(0, pipedCode);
        Assert.DoesNotContain("\x1b", piped, StringComparison.Ordinal);   // ordinal: ICU ignores control characters
        Assert.Contains("stdout is not an interactive terminal", pipedErr);
        var (_, reference, _) = Start("dotnet", [CliDll(), .. args]);
        Assert.Equal(reference, piped);
    }
}
