using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using OpenDllm.Data;
using OpenDllm.Inference;
using OpenDllm.Methods.DreamOn;
using OpenDllm.Runtime;
using OpenDllm.Sampling;

namespace OpenDllm.Cli.Commands;

/// <summary>
/// `opendllm eval infill-lengths --checkpoint DIR`: held-out single lines of the training corpus filled back in under the
/// three length protocols (oracle, fixed lengths averaged, DreamOn variable length; SPEC §5.6–5.7), scored by exact match,
/// token accuracy and length error on the same tasks (<see cref="InfillLengthProtocols"/>).
/// </summary>
public static class InfillLengthsCommand
{
    public static Command Create()
    {
        var checkpoint = new Option<string>("--checkpoint") { Description = "Checkpoint directory.", Required = true };
        var shards = new Option<string>("--shards") { Description = "Prepared token shards whose validation split gives the lines.", DefaultValueFactory = _ => DefaultCorpus.DefaultOutputDirectory };
        var count = new Option<int>("--tasks") { Description = "Held-out lines to fill (HeldOutInfill, seed 1).", DefaultValueFactory = _ => 50 };
        var protocols = new Option<string>("--protocols") { Description = "Comma list of oracle, fixed, variable (variable needs a DreamOn checkpoint).", DefaultValueFactory = _ => "oracle,fixed,variable" };
        var fixedLengths = new Option<string>("--fixed-lengths") { Description = "Lengths of the averaged fixed protocol.", DefaultValueFactory = _ => "4,8,16,32,64" };
        var initial = new Option<string>("--initial-lengths") { Description = "Variable: initial middle lengths, averaged (DreamOn's min_gen_len).", DefaultValueFactory = _ => "4" };
        var maxMiddle = new Option<int>("--max-middle") { Description = "Variable: the length budget (DreamOn: 64).", DefaultValueFactory = _ => 64 };
        var sampler = new Option<string>("--sampler") { Description = "Confidence of every protocol: entropy (DreamOn's), maskgit_plus or topk_margin.", DefaultValueFactory = _ => "entropy" };
        var temperature = new Option<double>("--temperature") { Description = "0 = greedy.", DefaultValueFactory = _ => 0.0 };
        var seed = new Option<long>("--seed") { Description = "Sampling seed.", DefaultValueFactory = _ => 0L };
        var batchSize = new Option<int>("--batch-size")
        {
            Description = "Variable: held-out lines decoded together (ragged batch, a generator per row); every middle equals its batch-1 middle. Oracle and fixed run one line at a time.",
            DefaultValueFactory = _ => 1,
        };
        var json = new Option<string?>("--json") { Description = "Also write the scores and settings here." };
        var model = new ModelOptions();
        var command = new Command("infill-lengths", "Fill held-out corpus lines at oracle, averaged fixed and variable (DreamOn) length; exact match and token accuracy.")
            { checkpoint, shards, count, protocols, fixedLengths, initial, maxMiddle, sampler, temperature, seed, batchSize, json };
        model.AddTo(command);
        command.SetAction(p => CliErrors.Run(() =>
        {
            static List<int> Lengths(string text, string option) => text.Split(',').Select(s =>
                int.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n > 0 ? n
                    : throw new ArgumentException($"{option}: '{s}' is not a positive integer")).ToList();
            var chosen = p.GetValue(protocols)!.Split(',').Select(s => s.Trim()).ToList();
            foreach (var c in chosen.Where(c => c is not ("oracle" or "fixed" or "variable")))
                throw new ArgumentException($"--protocols: '{c}' is not one of oracle, fixed, variable");
            var fixedList = Lengths(p.GetValue(fixedLengths)!, "--fixed-lengths");
            var initialList = Lengths(p.GetValue(initial)!, "--initial-lengths");
            if (p.GetValue(count) < 1) throw new ArgumentException($"--tasks {p.GetValue(count)}: must be at least 1");
            int batch = p.GetValue(batchSize);
            if (batch < 1) throw new ArgumentException($"--batch-size {batch}: must be at least 1");
            if (batch > 1 && !chosen.Contains("variable"))
                throw new ArgumentException($"--batch-size {batch}: only the variable protocol decodes in batches; oracle and fixed run one line at a time");
            string name = SamplerFactory.Canonical(p.GetValue(sampler)!);
            var confidence = DreamOnSamplerOptions.ConfidenceFor(name);
            var settings = new SamplerSettings { Temperature = p.GetValue(temperature), Seed = p.GetValue(seed) }.Validate();
            if (initialList.Any(n => n > p.GetValue(maxMiddle))) throw new ArgumentException($"--initial-lengths must be ≤ --max-middle ({p.GetValue(maxMiddle)})");
            TorchRuntime.EnsureLoaded();
            var dir = p.GetValue(checkpoint)!;
            var pipeline = DiffusionPipeline.Load(dir, model.ResolveDevice(p), model.ShiftedOverride(p));
            DreamOnTokens? tokens = chosen.Contains("variable") ? DreamOnTokens.FromCheckpoint(dir, pipeline.Tokenizer, pipeline.Model.VocabSize) : null;
            using var set = TokenShardSet.Open(p.GetValue(shards)!, verify: false);
            set.EnsureTokenizer(pipeline.Tokenizer);
            var tasks = HeldOutInfill.Tasks(set.Validation, pipeline.Tokenizer, p.GetValue(count), seed: 1);
            ISampler Masked(int n) => SamplerFactory.Create(name, settings with { Steps = n });
            var scores = new List<InfillProtocolScore>();
            var clock = System.Diagnostics.Stopwatch.StartNew();
            Console.WriteLine($"{tasks.Count} held-out lines from {p.GetValue(shards)}; checkpoint {dir}; confidence {name}, temperature {settings.Temperature}");
            foreach (var protocol in chosen)
            {
                var score = protocol switch
                {
                    "oracle" => InfillLengthProtocols.Oracle(pipeline, tasks, Masked),
                    "fixed" => InfillLengthProtocols.Fixed(pipeline, tasks, fixedList, Masked),
                    _ => InfillLengthProtocols.Variable(pipeline, tasks, initialList, new DreamOnSampler(new DreamOnSamplerOptions
                    {
                        Tokens = tokens!, MaxMiddle = p.GetValue(maxMiddle), Confidence = confidence, Temperature = settings.Temperature,
                        TopP = null, Seed = settings.Seed,
                    }), batch),
                };
                scores.Add(score);
                Console.WriteLine($"{score.Protocol,-24} exact match {100 * score.ExactMatch,6:F2}%  token accuracy {100 * score.TokenAccuracy,6:F2}%  " +
                                  $"|length error| {score.MeanAbsLengthError,5:F2} tokens  ({score.Runs} infills, {score.Forwards} forwards, " +
                                  $"{score.GeneratedTokens} generated tokens in {score.GenerationSeconds:F1} s = {score.GeneratedTokensPerSecond:F1} tokens/s " +
                                  $"(generated middle positions only; batch {score.BatchSize}), {clock.Elapsed.TotalSeconds:F0} s)");
            }
            if (p.GetValue(json) is { } path)
            {
                OpenDllm.IO.OutputGuard.EnsureSafe(path, "--json", false, dir, p.GetValue(shards));
                OpenDllm.IO.AtomicFile.WriteAllText(path, JsonSerializer.Serialize(new
                {
                    checkpoint = Path.GetFullPath(dir), tasks = tasks.Count, sampler = name, temperature = settings.Temperature, seed = settings.Seed,
                    max_middle = p.GetValue(maxMiddle), batch_size = batch, scores,
                }, new JsonSerializerOptions { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower }));
                Console.WriteLine($"wrote {path}");
            }
            return 0;
        }));
        return command;
    }
}
