using System.Diagnostics;
using System.Reflection;
using System.Runtime.InteropServices;
using System.Text.Json.Nodes;
using OpenDllm.Checkpoints;
using OpenDllm.Cli;
using Spectre.Console;
using Xunit.Sdk;
using static TorchSharp.torch;

namespace OpenDllm.Tests.Cli;

public sealed class InspectCommandTests : IDisposable
{
    readonly string _dir = Directory.CreateTempSubdirectory("opendllm-inspect-").FullName;

    public void Dispose() => Directory.Delete(_dir, true);

    [Theory]
    [InlineData("causal", "logits_causal")]
    [InlineData("bidirectional", "logits_bidirectional")]
    public void WritesLogitsThatMatchTheReference(string attention, string goldenName)
    {
        using var scope = NewDisposeScope();
        var model = Fixture.GoldenDir("tiny");
        using var golden = SafetensorsFile.Open(Path.Combine(model, "golden.safetensors"));
        var ids = golden.Read("input_ids");
        var rows = Enumerable.Range(0, (int)ids.shape[0]).Select(r => ids[r].data<long>().ToArray()).ToArray();
        var input = Path.Combine(_dir, "ids.json");
        File.WriteAllText(input, System.Text.Json.JsonSerializer.Serialize(rows));
        var output = Path.Combine(_dir, "logits.safetensors");

        Assert.Equal(0, CliApp.Run(["inspect", model, "--input", input, "--attention", attention, "--out", output]));

        using var written = SafetensorsFile.Open(output);
        Assert.Equal(SafetensorsDType.F32, written.GetEntry("logits").DType);
        Fixture.AssertClose(golden.Read(goldenName), written.Read("logits"), 1e-5, attention);
    }

    [Fact]
    public void BadInputsExitWithOneAndWriteNothing()
    {
        var model = Fixture.GoldenDir("tiny");
        var output = Path.Combine(_dir, "logits.safetensors");
        var ragged = Path.Combine(_dir, "ragged.json");
        File.WriteAllText(ragged, "[[1, 2], [3]]");
        var outOfVocab = Path.Combine(_dir, "oov.json");
        File.WriteAllText(outOfVocab, "[[1, 300]]");
        Assert.Equal(1, CliApp.Run(["inspect", model, "--input", ragged, "--out", output]));
        Assert.Equal(1, CliApp.Run(["inspect", model, "--input", outOfVocab, "--out", output]));
        Assert.Equal(1, CliApp.Run(["inspect", Path.Combine(_dir, "missing-model")]));
        Assert.False(File.Exists(output));
    }

    /// <summary>
    /// Folders laid out as transformers 5.x / 4.x save them (data-scripts/make_hf_layout_fixtures.py), fed through
    /// inspect with their own inputs.json ({"input_ids": ...}): the logits match the reference within 1e-5.
    /// </summary>
    [Theory]
    [InlineData("v5_tied_gqa", "causal")]
    [InlineData("v5_tied_gqa", "bidirectional")]
    [InlineData("v4_untied_gqa", "causal")]
    [InlineData("v4_untied_gqa", "bidirectional")]
    [InlineData("v5_bf16_mha", "causal")]
    [InlineData("v5_bf16_mha", "bidirectional")]
    public void TransformersLayoutsGiveTheReferenceLogits(string name, string attention) =>
        AssertInspectMatchesGolden(Fixture.PathOf("hf_layouts", name), attention, _dir);

    /// <summary>
    /// Every case folder made by ../shared/reference/hf_golden.py with transformers itself (OPENDLLM_HF_GOLDEN=DIR, or
    /// ../shared/reference/golden/hf): reported as skipped, with the reason, where there is none.
    /// </summary>
    [Theory, HfGoldenCases]
    public void TransformersGoldensMatch(string caseName, string attention) =>
        AssertInspectMatchesGolden(Path.Combine(HfGoldenCasesAttribute.Directory ?? "", caseName), attention, _dir);

    /// <summary>Runs inspect on a folder holding config.json, weights, inputs.json and golden.safetensors.</summary>
    internal static void AssertInspectMatchesGolden(string caseDir, string attention, string workDir)
    {
        Assert.True(Directory.Exists(caseDir), $"{caseDir} does not exist");
        using var scope = NewDisposeScope();
        var output = Path.Combine(workDir, $"{Path.GetFileName(caseDir)}-{attention}.safetensors");
        Assert.Equal(0, CliApp.Run(["inspect", caseDir, "--input", Path.Combine(caseDir, "inputs.json"), "--attention", attention,
                                    "--out", output, "--device", "cpu"]));
        using var golden = SafetensorsFile.Open(Path.Combine(caseDir, "golden.safetensors"));
        using var written = SafetensorsFile.Open(output);
        Assert.Equal(SafetensorsDType.F32, written.GetEntry("logits").DType);
        Fixture.AssertClose(golden.Read($"logits_{attention}"), written.Read("logits"), 1e-5, $"{Path.GetFileName(caseDir)} {attention}");
    }

    [Fact]
    public void InputIdsObjectAndPlainArrayGiveTheSameLogits()
    {
        using var scope = NewDisposeScope();
        var model = Fixture.PathOf("hf_layouts", "v5_tied_gqa");
        var asObject = Path.Combine(model, "inputs.json");
        var asArray = Path.Combine(_dir, "ids.json");
        File.WriteAllText(asArray, JsonNode.Parse(File.ReadAllText(asObject))!["input_ids"]!.ToJsonString());
        var (a, b) = (Path.Combine(_dir, "a.safetensors"), Path.Combine(_dir, "b.safetensors"));
        Assert.Equal(0, CliApp.Run(["inspect", model, "--input", asObject, "--out", a]));
        Assert.Equal(0, CliApp.Run(["inspect", model, "--input", asArray, "--out", b]));
        using var fa = SafetensorsFile.Open(a);
        using var fb = SafetensorsFile.Open(b);
        Assert.True(Fixture.Same(fa.Read("logits"), fb.Read("logits")));

        var noIds = Path.Combine(_dir, "no-ids.json");
        File.WriteAllText(noIds, "{\"ids\": [[1, 2]]}");
        var fractional = Path.Combine(_dir, "fractional.json");
        File.WriteAllText(fractional, "{\"input_ids\": [[1, 2.5]]}");
        Assert.Equal(1, CliApp.Run(["inspect", model, "--input", noIds, "--out", Path.Combine(_dir, "c.safetensors")]));
        Assert.Equal(1, CliApp.Run(["inspect", model, "--input", fractional, "--out", Path.Combine(_dir, "c.safetensors")]));
        Assert.False(File.Exists(Path.Combine(_dir, "c.safetensors")));
    }

    /// <summary>
    /// A folder the user may not read says "permission denied" with the path, not "config.json not found". Root ignores
    /// permissions, so as root the command runs in a child process as the unprivileged user 65534 (setpriv).
    /// </summary>
    [UnixPermissionsFact, System.Runtime.Versioning.SupportedOSPlatform("linux")]
    public void UnreadableFolderOrFileSaysPermissionDenied()
    {
        var root = Path.Combine(_dir, "perm");
        var model = Path.Combine(root, "model");
        Directory.CreateDirectory(model);
        foreach (var name in new[] { "config.json", "model.safetensors" })
            File.Copy(Path.Combine(Fixture.GoldenDir("tiny"), name), Path.Combine(model, name));
        File.SetUnixFileMode(_dir, (UnixFileMode)0b111_101_101);
        File.SetUnixFileMode(root, (UnixFileMode)0b111_101_101);
        try
        {
            File.SetUnixFileMode(model, UnixFileMode.None);
            var (code, err) = InspectAsUnprivileged(model);
            Assert.Equal(1, code);
            Assert.Contains($"{Path.Combine(model, "config.json")}: permission denied", err);
            Assert.DoesNotContain("not found", err);

            File.SetUnixFileMode(model, (UnixFileMode)0b111_101_101);
            File.SetUnixFileMode(Path.Combine(model, "model.safetensors"), UnixFileMode.None);
            (code, err) = InspectAsUnprivileged(model);
            Assert.Equal(1, code);
            Assert.Contains($"{Path.Combine(model, "model.safetensors")}: permission denied", err);
        }
        finally
        {
            File.SetUnixFileMode(model, (UnixFileMode)0b111_101_101);
            File.SetUnixFileMode(Path.Combine(model, "model.safetensors"), (UnixFileMode)0b110_100_100);
        }
    }

    [DllImport("libc", EntryPoint = "geteuid")]
    static extern uint GetEffectiveUserId();

    /// <summary>True when the tests run as root, for whom file permissions do not apply.</summary>
    internal static bool IsRoot => OperatingSystem.IsLinux() && GetEffectiveUserId() == 0;

    internal static string? Setpriv => new[] { "/usr/bin/setpriv", "/bin/setpriv" }.FirstOrDefault(File.Exists);

    /// <summary>Exit code and stderr of `opendllm inspect DIR`: in-process for an ordinary user, as uid 65534 for root.</summary>
    static (int Code, string Err) InspectAsUnprivileged(string model)
    {
        if (!IsRoot)
        {
            var previous = Console.Error;
            using var err = new StringWriter();
            Console.SetError(err);
            try { return (CliApp.Run(["inspect", model, "--device", "cpu"]), err.ToString()); }
            finally { Console.SetError(previous); }
        }
        var cli = Path.Combine(AppContext.BaseDirectory, "opendllm.dll");
        var start = new ProcessStartInfo(Setpriv!, ["--reuid=65534", "--regid=65534", "--clear-groups", "dotnet", cli, "inspect", model, "--device", "cpu"])
        {
            RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false,
        };
        start.Environment["HOME"] = Path.GetTempPath();
        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        using (var process = Process.Start(start)!)
        {
            var stderr = process.StandardError.ReadToEndAsync();
            _ = process.StandardOutput.ReadToEnd();
            process.WaitForExit();
            return (process.ExitCode, stderr.Result);
        }
    }
}

/// <summary>A fact that needs Unix permissions to bite: skipped off Linux, and as root without setpriv to drop them.</summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class UnixPermissionsFactAttribute : FactAttribute
{
    public UnixPermissionsFactAttribute()
    {
        if (!OperatingSystem.IsLinux()) Skip = "needs Linux file permissions";
        else if (InspectCommandTests.IsRoot && InspectCommandTests.Setpriv is null)
            Skip = "running as root, which ignores file permissions, and setpriv (util-linux) is not installed to drop them";
    }
}

/// <summary>
/// Rows (case folder name, attention) for every folder under the transformers golden directory that hf_golden.py writes:
/// <c>OPENDLLM_HF_GOLDEN</c>, else <c>../shared/reference/golden/hf</c>. Without one, a single row is reported skipped.
/// </summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class HfGoldenCasesAttribute : DataAttribute
{
    /// <summary>The folder holding the case folders, or null.</summary>
    public static string? Directory { get; } =
        Environment.GetEnvironmentVariable("OPENDLLM_HF_GOLDEN") is { Length: > 0 } fromEnvironment ? fromEnvironment
        : TestPaths.SharedDir is { } shared && System.IO.Directory.Exists(Path.Combine(shared, "reference", "golden", "hf"))
            ? Path.Combine(shared, "reference", "golden", "hf") : null;

    public HfGoldenCasesAttribute()
    {
        if (Directory is null)
            Skip = "no transformers goldens: set OPENDLLM_HF_GOLDEN=DIR (made by ../shared/reference/hf_golden.py DIR) "
                   + "or create ../shared/reference/golden/hf";
    }

    public override IEnumerable<object[]> GetData(MethodInfo testMethod)
    {
        if (Directory is null) return [["(none)", "causal"]];
        if (!System.IO.Directory.Exists(Directory)) return [["", "causal"]];            // fails, naming the missing folder
        var cases = System.IO.Directory.GetDirectories(Directory).Order(StringComparer.Ordinal)
            .Where(d => File.Exists(Path.Combine(d, "golden.safetensors"))).Select(d => Path.GetFileName(d)!).ToList();
        if (cases.Count == 0) return [["(no case folder with golden.safetensors)", "causal"]];
        return cases.SelectMany(name => new[] { new object[] { name, "causal" }, [name, "bidirectional"] });
    }
}

/// <summary>What inspect prints (Spectre's console is swapped for a writer, so these run in the Console collection).</summary>
[Collection("Console")]
public sealed class InspectOutputTests : IDisposable
{
    readonly string _dir = Directory.CreateTempSubdirectory("opendllm-inspect-out-").FullName;

    public void Dispose() => Directory.Delete(_dir, true);

    static (int Code, string Out, string Err) Run(params string[] args)
    {
        var (previousConsole, previousOut, previousErr) = (AnsiConsole.Console, Console.Out, Console.Error);
        using var outWriter = new StringWriter();
        using var errWriter = new StringWriter();
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Out = new AnsiConsoleOutput(outWriter), ColorSystem = ColorSystemSupport.NoColors, Interactive = InteractionSupport.No,
        });
        console.Profile.Width = 240;
        AnsiConsole.Console = console;
        Console.SetOut(outWriter);
        Console.SetError(errWriter);
        try { return (CliApp.Run(args), outWriter.ToString(), errWriter.ToString()); }
        finally
        {
            AnsiConsole.Console = previousConsole;
            Console.SetOut(previousOut);
            Console.SetError(previousErr);
        }
    }

    /// <summary>
    /// Asserts that some table row holds <paramref name="field"/> and <paramref name="value"/>. Other tests may print
    /// inspect tables at the same time (the console is global), so rows are matched, not positions.
    /// </summary>
    static void AssertRow(string text, string field, string value) =>
        Assert.True(text.Split('\n').Any(l => l.Contains($" {field} ", StringComparison.Ordinal) && l.Contains(value, StringComparison.Ordinal)),
            $"no row '{field}' with '{value}' in:\n{text}");

    [Fact]
    public void PrintsWhereShiftedLogitsAndRopeThetaComeFrom()
    {
        var model = Fixture.PathOf("hf_layouts", "v5_bf16_mha");
        var (code, text, err) = Run("inspect", model, "--device", "cpu");
        Assert.True(code == 0, err);
        AssertRow(text, "shifted_logits", "true (inferred: Qwen2ForCausalLM without shifted_logits)");
        AssertRow(text, "rope_theta", "250000 (rope_parameters.rope_theta)");
        AssertRow(text, "stored dtype (config)", "bfloat16");
        AssertRow(text, "checkpoint dtypes", "BF16 × ");
        Assert.DoesNotContain(text.Split('\n'), l => l.Contains("unknown config keys") && l.Contains("rope_parameters"));  // understood now

        (code, text, err) = Run("inspect", model, "--device", "cpu", "--shifted", "false");
        Assert.True(code == 0, err);
        AssertRow(text, "shifted_logits", "false (override: --shifted)");
    }

    [Fact]
    public void AConfigThatDisagreesWithTheCheckpointIsOneLineNamingTheField()
    {
        var source = Fixture.GoldenDir("tiny");
        File.Copy(Path.Combine(source, "model.safetensors"), Path.Combine(_dir, "model.safetensors"));
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(source, "config.json")))!.AsObject();
        config["hidden_size"] = 1048576;
        File.WriteAllText(Path.Combine(_dir, "config.json"), config.ToJsonString());
        var (code, _, err) = Run("inspect", _dir, "--device", "cpu");
        Assert.Equal(1, code);
        Assert.StartsWith($"error: {Path.Combine(_dir, "config.json")} does not match the checkpoint", err);
        Assert.Contains("hidden_size = 1048576 does not fit model.embed_tokens.weight [300, 64]", err);
        Assert.Single(err.Trim().Split('\n'));
    }
}
