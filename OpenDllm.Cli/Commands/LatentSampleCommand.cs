using System.CommandLine;
using OpenDllm.Inference;
using OpenDllm.Sampling.Latent;

namespace OpenDllm.Cli.Commands;

/// <summary>
/// `opendllm sample CHECKPOINT --method ldlm [--count N] [--steps 10] [--sampler ddim|ddpm] [--seed S] [--trajectory t.json]`:
/// unconditional generation from an LDLM checkpoint (SPEC §6): noise → N denoising steps on the latents → the decoded text
/// (length = the checkpoint's decoder query count). Options of the masked samplers are refused, never ignored.
/// </summary>
static class LatentSampleCommand
{
    /// <summary>Latent sampler names <c>--sampler</c> accepts with <c>--method ldlm</c>.</summary>
    public static readonly IReadOnlyList<string> Samplers = ["ddim", "ddpm"];

    /// <summary>Default steps when <c>--steps</c> is not given (the seed's benchmark setting).</summary>
    public const int DefaultSteps = 10;

    /// <summary>Runs it; <paramref name="given"/> says whether an option was typed (its default would otherwise stand in).</summary>
    public static int Run(ParseResult p, string checkpoint, Func<Option, bool> given, Option<string> samplerOption, Option<int> stepsOption,
                          Option<long> seedOption, Option<string?> trajectoryOption, Option<bool> forceOption, Option<int> countOption,
                          ModelOptions model, IEnumerable<Option> refused)
    {
        foreach (var option in refused)
            if (given(option))
                throw new ArgumentException($"{option.Name} does not apply to --method ldlm (an LDLM generates unconditionally from noise; "
                    + "its options are --count, --steps, --sampler ddim|ddpm, --seed, --trajectory, --device)");
        var samplerName = given(samplerOption) ? p.GetValue(samplerOption)! : "ddim";
        if (!Samplers.Contains(samplerName))
            throw new ArgumentException($"--sampler {samplerName}: with --method ldlm use one of: {string.Join(", ", Samplers)}");
        var settings = new LatentSamplerSettings
        {
            Steps = given(stepsOption) ? p.GetValue(stepsOption) : DefaultSteps,
            Kind = samplerName == "ddpm" ? LatentSamplerKind.Ddpm : LatentSamplerKind.Ddim,
            Seed = p.GetValue(seedOption), RecordTrajectory = p.GetValue(trajectoryOption) is not null,
        }.Validate();
        int count = p.GetValue(countOption);
        if (count < 1) throw new ArgumentOutOfRangeException("--count", count, $"--count = {count}: must be ≥ 1");
        if (p.GetValue(trajectoryOption) is { } path)
            OpenDllm.IO.OutputGuard.EnsureSafe(path, "--trajectory", p.GetValue(forceOption), [checkpoint]);
        using var pipeline = LatentPipeline.Load(checkpoint, model.ResolveDevice(p));
        var watch = System.Diagnostics.Stopwatch.StartNew();
        var result = pipeline.Generate(count, settings);
        for (int i = 0; i < result.Texts.Count; i++)
        {
            if (count > 1) Console.WriteLine($"--- sample {i}");
            Console.WriteLine(result.Texts[i]);
        }
        Console.Error.WriteLine($"[{count} × {pipeline.Length} tokens, {result.Forwards} denoiser forwards, {watch.Elapsed.TotalSeconds:F2} s, "
                                + $"sampler ldlm-{samplerName}, {settings.Steps} steps]");
        if (p.GetValue(trajectoryOption) is { } file && result.Trajectory is { } t)
        {
            t.Save(file);
            Console.Error.WriteLine($"trajectory: {file}");
        }
        return 0;
    }
}
