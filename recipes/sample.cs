// sample: load a checkpoint, swap samplers (one line each), compare their output, forwards and speed, save a trajectory.
//
//   dotnet run recipes/sample.cs                                        # the latest checkpoint in runs/recipes/tiny
//   dotnet run recipes/sample.cs -- runs/recipes/tiny/checkpoint-00001000 --length 64 --trajectory out/traj.json
//   dotnet run recipes/sample.cs -- CHECKPOINT --small                  # CI size: 16 tokens (OPENDLLM_RECIPE_SMALL=1 too)
//
// What it does: DiffusionPipeline.Load reads a checkpoint folder (config.json + safetensors + tokenizer; a training run
// folder means its newest checkpoint), then completes one Python prompt with three samplers built by name through
// SamplerFactory: maskgit_plus (Dream/Open-dCoder confidence unmasking, one forward per step), fast-dllm-dual (block-wise
// parallel decoding with a threshold and a dual KV cache) and ar (left to right, causal attention, KV cache). For each it
// prints the text, the number of model forwards and tokens per second; the maskgit_plus run records its denoising
// trajectory (which step committed which token) as JSON, the input of the trajectory viewer.
//
// How long: a few seconds after the first build (the tiny model is 0.1M parameters).
//
// What you should see: three completions (a tiny model trained for a minute writes Python-looking fragments, not working
// code; ar is only a speed baseline here, since an MDLM checkpoint was trained bidirectionally), maskgit_plus using about
// one forward per step (--steps, default = length), fast-dllm-dual faster through its KV cache and, once a model is confident
// (above --threshold 0.9), several tokens per forward (the tiny model rarely is: expect about one), ar one forward per
// token, then the trajectory JSON's path and the canvas replayed after the first, middle and last step.
#:project ../OpenDllm.Core/OpenDllm.Core.csproj
#:project ../OpenDllm.Interactive/OpenDllm.Interactive.csproj
#:property OpenDllmTorchNatives=true

using System.Diagnostics;
using System.Globalization;
using OpenDllm.Inference;
using OpenDllm.Runtime;
using OpenDllm.Sampling;
using OpenDllm.Training;

string[] valued = ["--length", "--steps", "--trajectory", "--prompt"];
var positional = args.Where((a, i) => !a.StartsWith("--") && (i == 0 || !valued.Contains(args[i - 1]))).ToList();
bool small = args.Contains("--small") || Environment.GetEnvironmentVariable("OPENDLLM_RECIPE_SMALL") is "1" or "true";
int length = int.Parse(Option("--length") ?? (small ? "16" : "48"), CultureInfo.InvariantCulture);
int steps = int.Parse(Option("--steps") ?? length.ToString(CultureInfo.InvariantCulture), CultureInfo.InvariantCulture);
var trajectoryPath = Option("--trajectory") ?? "runs/recipes/trajectory.json";
var prompt = Option("--prompt") ?? "def add(a, b):\n    \"\"\"Return the sum of a and b.\"\"\"\n    return";

var checkpoint = positional.FirstOrDefault() ?? "runs/recipes/tiny";
if (Directory.Exists(checkpoint) && !File.Exists(Path.Combine(checkpoint, "config.json")))
    checkpoint = CheckpointStore.Latest(checkpoint) ?? checkpoint;            // a run folder: its newest checkpoint
if (!File.Exists(Path.Combine(checkpoint, "config.json")))
{
    Console.Error.WriteLine($"sample: {checkpoint} is not a checkpoint folder; train one first: dotnet run recipes/train-tiny.cs");
    return 1;
}

TorchRuntime.EnsureLoaded();
TorchSharp.torch.set_num_threads(1);
var pipeline = DiffusionPipeline.Load(checkpoint);
Console.WriteLine($"checkpoint: {checkpoint} ({pipeline.Model.ParameterCount:N0} parameters, tokenizer {pipeline.Tokenizer.Name})");
Console.WriteLine($"prompt: {prompt.Replace("\n", "⏎")}   ({length} new tokens)\n");

var settings = new SamplerSettings { Steps = steps, BlockLength = Math.Min(32, length), Threshold = 0.9 };
// swapping samplers is one line each: a name and the shared settings
var samplers = new (string Label, ISampler Sampler)[]
{
    ("maskgit_plus", SamplerFactory.Create("maskgit_plus", settings with { RecordTrajectory = true })),
    ("fast-dllm-dual", SamplerFactory.Create("fast-dllm-dual", settings)),
    ("ar", SamplerFactory.Create("ar", settings)),
};

Trajectory? trajectory = null;
foreach (var (label, sampler) in samplers)
{
    pipeline.Complete(prompt, Math.Min(4, length), sampler);                  // warm-up (first-call costs out of the timing)
    var watch = Stopwatch.StartNew();
    var g = pipeline.Complete(prompt, length, sampler);
    double seconds = watch.Elapsed.TotalSeconds;
    Console.WriteLine($"--- {label,-13} {g.Output.Forwards,3} forwards  {length / seconds,8:N0} tokens/s  ({seconds * 1000:F0} ms)");
    Console.WriteLine($"{prompt}{g.Text}\n");
    trajectory ??= g.Output.Trajectory;
}

if (trajectory is null) throw new InvalidOperationException("maskgit_plus recorded no trajectory");
Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(trajectoryPath))!);
trajectory.Save(trajectoryPath);
int committed = trajectory.Steps.Sum(s => s.Events.Count);
Console.WriteLine($"trajectory: {trajectoryPath} ({trajectory.Steps.Count} steps, {committed} tokens committed)");
// the same trajectory as an offline page with a step slider (OpenDllm.Interactive's viewer)
var page = Path.ChangeExtension(trajectoryPath, ".html");
OpenDllm.IO.AtomicFile.WriteAllText(page, OpenDllm.Interactive.TrajectoryHtml.RenderPage(trajectory, pipeline.Tokenizer, "maskgit_plus trajectory"));
Console.WriteLine($"viewer: {page}");
// replay it: the canvas (masks as ▢) after the first, middle and last step
foreach (int k in new[] { 1, trajectory.Steps.Count / 2, trajectory.Steps.Count }.Distinct())
{
    var row = trajectory.CanvasAfter(k)[0];
    var text = string.Concat(row.Select(t => t == trajectory.MaskId ? "▢" : pipeline.Tokenizer.Decode([(int)t])));
    Console.WriteLine($"  after step {k,3}: {text[^Math.Min(text.Length, length + 12)..].Replace("\n", "⏎")}");
}
return 0;

string? Option(string name)
{
    int i = Array.IndexOf(args, name);
    return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
}
