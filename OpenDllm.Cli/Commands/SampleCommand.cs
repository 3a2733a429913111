using System.CommandLine;
using OpenDllm.Inference;
using OpenDllm.Runtime;
using OpenDllm.Sampling;

namespace OpenDllm.Cli.Commands;

/// <summary>
/// `opendllm sample CHECKPOINT --prompt ...` and `opendllm infill CHECKPOINT --prefix-file --suffix-file [--length N]`,
/// with the sampler chosen by name and the usual knobs; `--trajectory out.json` records the denoising order.
/// </summary>
public static class SampleCommand
{
    sealed class SamplerArguments
    {
        public readonly Argument<string> Checkpoint = new("checkpoint") { Description = "Checkpoint directory (config.json, safetensors, tokenizer)." };
        public readonly Option<string> Sampler = new("--sampler") { Description = $"One of: {string.Join(", ", SamplerFactory.Names)}.", DefaultValueFactory = _ => "maskgit_plus" };
        public readonly Option<int> Steps = new("--steps") { Description = "Denoising steps (masked samplers).", DefaultValueFactory = _ => 64 };
        public readonly Option<double> Temperature = new("--temperature") { Description = "0 = greedy.", DefaultValueFactory = _ => 0.0 };
        public readonly Option<double?> TopP = new("--top-p") { Description = "Nucleus filtering." };
        public readonly Option<int?> TopK = new("--top-k") { Description = "Top-k filtering." };
        public readonly Option<double> AlgTemp = new("--alg-temp") { Description = "Sample positions by confidence / alg_temp instead of top-k (0 = top-k).", DefaultValueFactory = _ => 0.0 };
        public readonly Option<int> BlockLength = new("--block-length") { Description = "Block length (Fast-dLLM, LLaDA, block).", DefaultValueFactory = _ => 32 };
        public readonly Option<double> Threshold = new("--threshold") { Description = "Fast-dLLM confidence threshold.", DefaultValueFactory = _ => 0.9 };
        public readonly Option<int?> RefreshInterval = new("--refresh-interval") { Description = $"fast-dllm-dkv: a full forward every N steps (default {FastDllmOptions.DefaultRefreshInterval}; 1 = uncached)." };
        public readonly Option<long> Seed = new("--seed") { Description = "Random seed.", DefaultValueFactory = _ => 0L };
        public readonly Option<string?> Trajectory = new("--trajectory") { Description = "Write the denoising trajectory (JSON) here." };
        public readonly Option<bool> Force = new("--force") { Description = "Allow --trajectory to overwrite a file of the checkpoint." };
        public readonly Option<bool> Live = new("--live")
        {
            Description = "Redraw the canvas in place at every step (masks dim, tokens committed this step highlighted, step and forwards/s); "
                          + "plain output when stdout is not a terminal.",
        };
        public readonly ModelOptions Model = new();
        public readonly AdapterOption Adapter = new();

        public void AddTo(Command c)
        {
            c.Add(Checkpoint);
            foreach (var o in new Option[] { Sampler, Steps, Temperature, TopP, TopK, AlgTemp, BlockLength, Threshold, RefreshInterval, Seed, Trajectory, Force, Live }) c.Add(o);
            Model.AddTo(c);
            Adapter.AddTo(c);
        }

        /// <summary>Checks the output paths, then loads the checkpoint onto the chosen device.</summary>
        public DiffusionPipeline Load(ParseResult p, params string?[] otherInputs)
        {
            var checkpoint = p.GetValue(Checkpoint)!;
            var adapter = Adapter.Value(p);
            if (p.GetValue(Trajectory) is { } path)
                OpenDllm.IO.OutputGuard.EnsureSafe(path, "--trajectory", p.GetValue(Force), [checkpoint, adapter, .. otherInputs]);
            return DiffusionPipeline.Load(checkpoint, Model.ResolveDevice(p), Model.ShiftedOverride(p), adapter);
        }

        /// <summary>The sampler of the options (validated: a bad value is a one-line error naming the option).</summary>
        public ISampler Build(ParseResult p) => SamplerFactory.Create(p.GetValue(Sampler)!, new SamplerSettings
        {
            Steps = p.GetValue(Steps), Temperature = p.GetValue(Temperature), TopP = p.GetValue(TopP), TopK = p.GetValue(TopK),
            AlgTemp = p.GetValue(AlgTemp), BlockLength = p.GetValue(BlockLength), Threshold = p.GetValue(Threshold),
            RefreshInterval = p.GetValue(RefreshInterval), Seed = p.GetValue(Seed), RecordTrajectory = p.GetValue(Trajectory) is not null || p.GetValue(Live),
        });

        /// <summary>
        /// Runs <paramref name="sample"/>, under the live view when <c>--live</c> is given and stdout is a terminal; with
        /// <c>--live</c> and no terminal it says so on stderr and runs plainly.
        /// </summary>
        public Generation Run(ParseResult p, DiffusionPipeline pipeline, Func<Generation> sample)
        {
            if (!p.GetValue(Live)) return sample();
            if (!LiveCanvasView.TerminalSupportsLive)
            {
                Console.Error.WriteLine("--live: stdout is not an interactive terminal; printing the final text only");
                return sample();
            }
            return LiveCanvasView.For(pipeline.Tokenizer, p.GetValue(Sampler)!).Run(sample);
        }

        public int Report(ParseResult p, Generation g, TimeSpan elapsed)
        {
            Console.WriteLine(g.Text);
            Console.Error.WriteLine($"[{g.Ids.Length} tokens, {g.Output.Forwards} forwards, {elapsed.TotalSeconds:F2} s, sampler {p.GetValue(Sampler)}]");
            if (p.GetValue(Trajectory) is { } path && g.Output.Trajectory is { } t)
            {
                t.Save(path);
                Console.Error.WriteLine($"trajectory: {path}");
            }
            return 0;
        }
    }

    public static Command CreateSample()
    {
        var a = new SamplerArguments();
        var prompt = new Option<string?>("--prompt") { Description = "Prompt text (required except with --method ldlm)." };
        var length = new Option<int>("--length") { Description = "Tokens to generate.", DefaultValueFactory = _ => 64 };
        var method = new Option<string>("--method")
        {
            Description = "masked (token diffusion or AR checkpoints), ldlm (a latent diffusion checkpoint: unconditional generation), "
                          + "or auto: ldlm when the checkpoint has ldlm.json.",
            DefaultValueFactory = _ => "auto",
        };
        method.AcceptOnlyFromAmong("auto", "masked", "ldlm");
        var count = new Option<int>("--count") { Description = "With --method ldlm: sequences to generate.", DefaultValueFactory = _ => 1 };
        var command = new Command("sample", "Generate a continuation of a prompt with a diffusion (or AR) sampler, or text from an LDLM checkpoint.");
        a.AddTo(command);
        command.Add(prompt);
        command.Add(length);
        command.Add(method);
        command.Add(count);
        command.SetAction(p => CliErrors.Run(() =>
        {
            var checkpoint = p.GetValue(a.Checkpoint)!;
            bool Given(Option o) => p.GetResult(o) is { Implicit: false };
            bool ldlm = p.GetValue(method) switch
            {
                "ldlm" => true,
                "masked" => false,
                _ => OpenDllm.Methods.Ldlm.LdlmCheckpointInfo.IsLdlmCheckpoint(checkpoint),
            };
            if (ldlm)
                return LatentSampleCommand.Run(p, checkpoint, Given, a.Sampler, a.Steps, a.Seed, a.Trajectory, a.Force, count, a.Model,
                    [prompt, length, a.Temperature, a.TopP, a.TopK, a.AlgTemp, a.BlockLength, a.Threshold, a.Model.Shifted, a.Adapter.Adapter, a.Live]);
            if (Given(count)) throw new ArgumentException("--count applies to --method ldlm only");
            if (p.GetValue(prompt) is null) throw new ArgumentException("--prompt is required (except with --method ldlm)");
            TorchRuntime.EnsureLoaded();
            var sampler = a.Build(p);                                       // bad sampler options fail before the model loads
            var pipeline = a.Load(p);
            var watch = System.Diagnostics.Stopwatch.StartNew();
            var g = a.Run(p, pipeline, () => pipeline.Complete(p.GetValue(prompt)!, p.GetValue(length), sampler));
            return a.Report(p, g, watch.Elapsed);
        }));
        return command;
    }

    public static Command CreateInfill()
    {
        var a = new SamplerArguments();
        var prefix = new Option<string>("--prefix-file") { Description = "File with the code before the gap.", Required = true };
        var suffix = new Option<string>("--suffix-file") { Description = "File with the code after the gap.", Required = true };
        var length = new Option<int>("--length")
        {
            Description = "Number of masked tokens in the gap (fixed), or the initial number (variable).", DefaultValueFactory = _ => 32,
        };
        var mode = new Option<string>("--length-mode")
        {
            Description = "fixed: exactly --length tokens; oracle: as many tokens as --middle-file encodes to; variable: DreamOn "
                          + "expand/delete from --length masks, within --max-middle (needs a checkpoint trained with train.objective: dreamon).",
            DefaultValueFactory = _ => "fixed",
        };
        mode.AcceptOnlyFromAmong("fixed", "oracle", "variable");
        var middleFile = new Option<string?>("--middle-file") { Description = "With --length-mode oracle: the true middle, whose token count is the gap length." };
        var maxMiddle = new Option<int>("--max-middle") { Description = "With --length-mode variable: the length budget (DreamOn: 64).", DefaultValueFactory = _ => 64 };
        var command = new Command("infill", "Fill the gap between a prefix and a suffix (fixed, oracle or variable length).");
        a.AddTo(command);
        command.Add(prefix);
        command.Add(suffix);
        command.Add(length);
        command.Add(mode);
        command.Add(middleFile);
        command.Add(maxMiddle);
        command.SetAction(p => CliErrors.Run(() =>
        {
            bool Given(Option o) => p.GetResult(o) is { Implicit: false };
            var lengthMode = p.GetValue(mode)!;
            if (Given(middleFile) && lengthMode != "oracle") throw new ArgumentException("--middle-file applies to --length-mode oracle only");
            if (lengthMode == "oracle" && !Given(middleFile)) throw new ArgumentException("--length-mode oracle needs --middle-file (the true middle, to count its tokens)");
            if (lengthMode == "oracle" && Given(length)) throw new ArgumentException("--length does not apply to --length-mode oracle (the length is --middle-file's token count)");
            if (Given(maxMiddle) && lengthMode != "variable") throw new ArgumentException("--max-middle applies to --length-mode variable only");
            if (lengthMode == "variable")
                foreach (var o in new Option[] { a.Steps, a.BlockLength, a.Threshold })
                    if (Given(o)) throw new ArgumentException($"{o.Name} is not used by --length-mode variable (DreamOn commits one token per step)");
            TorchRuntime.EnsureLoaded();
            string Read(Option<string> o) => File.Exists(p.GetValue(o)) ? File.ReadAllText(p.GetValue(o)!)
                : throw new FileNotFoundException($"{p.GetValue(o)}: file not found ({o.Name})");
            var (pre, suf) = (Read(prefix), Read(suffix));
            string? oracleMiddle = lengthMode == "oracle" ? Read(middleFile!) : null;
            if (lengthMode == "variable")
            {
                var settingsOnly = new SamplerSettings
                {
                    Temperature = p.GetValue(a.Temperature), TopP = p.GetValue(a.TopP), TopK = p.GetValue(a.TopK), AlgTemp = p.GetValue(a.AlgTemp),
                    Seed = p.GetValue(a.Seed), RecordTrajectory = p.GetValue(a.Trajectory) is not null || p.GetValue(a.Live),
                };
                string confidence = Given(a.Sampler) ? p.GetValue(a.Sampler)! : "entropy";
                if (p.GetValue(maxMiddle) < 1) throw new ArgumentException($"--max-middle {p.GetValue(maxMiddle)}: must be at least 1");
                if (p.GetValue(length) < 1 || p.GetValue(length) > p.GetValue(maxMiddle))
                    throw new ArgumentException($"--length {p.GetValue(length)}: the initial middle must be in [1, --max-middle = {p.GetValue(maxMiddle)}]");
                DreamOnSamplerOptions.From(settingsOnly, confidence, new(0, 1), p.GetValue(maxMiddle));   // bad knobs fail before the model loads
                var loaded = a.Load(p, p.GetValue(prefix), p.GetValue(suffix));
                var tokens = OpenDllm.Methods.DreamOn.DreamOnTokens.FromCheckpoint(p.GetValue(a.Checkpoint)!, loaded.Tokenizer, loaded.Model.VocabSize);
                var dreamon = new DreamOnSampler(DreamOnSamplerOptions.From(settingsOnly, confidence, tokens, p.GetValue(maxMiddle)));
                var clock = System.Diagnostics.Stopwatch.StartNew();
                VariableInfillOutput? detail = null;
                var filled = a.Run(p, loaded, () => { var (gen, d) = loaded.Infill(pre, suf, p.GetValue(length), dreamon); detail = d; return gen; });
                Console.WriteLine(filled.Text);
                Console.Error.WriteLine($"[{filled.Ids.Length} tokens, middle {p.GetValue(length)} -> {detail!.MiddleLength} positions ({detail.Expansions} expanded, "
                                        + $"{detail.Deletions} deleted), {filled.Output.Forwards} forwards, {clock.Elapsed.TotalSeconds:F2} s, sampler dreamon/{confidence}]");
                if (p.GetValue(a.Trajectory) is { } path && filled.Output.Trajectory is { } t)
                {
                    t.Save(path);
                    Console.Error.WriteLine($"trajectory: {path}");
                }
                return 0;
            }
            var sampler = a.Build(p);                                       // bad sampler options fail before the model loads
            var pipeline = a.Load(p, p.GetValue(prefix), p.GetValue(suffix), p.GetValue(middleFile));
            int n = oracleMiddle is null ? p.GetValue(length) : Math.Max(1, pipeline.TokenCount(oracleMiddle));
            var watch = System.Diagnostics.Stopwatch.StartNew();
            var g = a.Run(p, pipeline, () => pipeline.Infill(pre, suf, n, sampler));
            return a.Report(p, g, watch.Elapsed);
        }));
        return command;
    }
}
