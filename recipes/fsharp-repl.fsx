// fsharp-repl: OpenDllm from the F# REPL, against the built library.
//
//   dotnet build OpenDllm.Cli -c Release          # once: the output folder this script loads (OpenDllm.Core.dll, TorchSharp.dll,
//                                                  # libtorch under runtimes/linux-x64/native with the GLIBCXX fix applied)
//   dotnet fsi recipes/fsharp-repl.fsx            # or paste the lines below into `dotnet fsi` one block at a time
//
// What it does: builds a tiny Qwen2 model (2 layers, hidden 32, vocab 99), runs it causally and bidirectionally on the
// same tokens, masks a batch with the forward process of the linear schedule and computes the MDLM loss (+ a backward),
// completes a prompt with the masked-diffusion sampler (maskgit_plus) recording the trajectory, and checks with FsCheck
// that α(t) of every schedule is non-increasing. Another output folder: change the #I line below (F# resolves it
// before the script runs).
//
// How long: about 3 s once fsi has cached FsCheck (the first run restores it: about 10 s).
//
// What you should see: "torch natives: libtorch: …/runtimes/linux-x64/native (application); …", logits of shape
// [2, 12, 99] both ways, position 0's logits differing between causal and bidirectional attention (only the bidirectional one sees the
// rest of the sequence), an MDLM loss of about 10 for the untrained model (cross entropy ≈ ln 99 ≈ 4.6 times the linear
// schedule's weight w(t) = 1/t ≈ 2) with a finite gradient, a 6-token completion in at most 6 forwards with the commit
// step of every position, and "Ok, passed 100 tests." for each schedule. The script throws (non-zero exit) when a check
// fails. Without the TorchNatives.Load() line below it fails on this machine with "doesn't contain a reference to
// libtorch-cpu-linux-x64" (checked).
#r "nuget: FsCheck, 3.6.0"
#I "../OpenDllm.Cli/bin/Release/net10.0"
#r "TorchSharp.dll"
#r "OpenDllm.Core.dll"

open System
open System.IO
open System.Collections.Generic
open System.Runtime.InteropServices

// ── 1. Load TorchSharp's natives BEFORE the first use of torch ─────────────────────────────────────────────────────
// A script host (dotnet fsi, a notebook kernel) that #r's TorchSharp.dll has no deps.json entry for TorchSharp's native
// libraries, so TorchSharp asks the OS loader for plain "libtorch_cpu.so". On a machine with Debian's python3-torch /
// libtorch1.13 installed (PLATFORM.md, blocker 6) that resolves to libtorch 1.13 in /usr/lib, and TorchSharp 0.107 fails
// with "doesn't contain a reference to libtorch-cpu-linux-x64". TorchNatives.Load() loads libtorch 2.10 by full path
// (here the build output's copy beside TorchSharp.dll; else the NuGet cache's libtorch-cpu-linux-x64) and a copy of
// libLibTorchSharp.so with the GLIBCXX_3.4.32 requirement relaxed, before TorchSharp's own loader runs; later loads
// by name find these by soname. It prints what it loaded.
printfn "torch natives: %O" (OpenDllm.Runtime.TorchNatives.Load())

open TorchSharp
open OpenDllm.Attention
open OpenDllm.Config
open OpenDllm.Masking
open OpenDllm.Models
open OpenDllm.Objectives
open OpenDllm.Runtime
open OpenDllm.Sampling
open OpenDllm.Schedules

TorchRuntime.EnsureLoaded()
torch.set_num_threads 1
printfn "libtorch %s, device %O" torch.__version__ TorchRuntime.DefaultDevice

let check cond (what: string) = if not cond then failwithf "check failed: %s" what

// ── 2. A tiny Qwen2 model and a bidirectional forward ──────────────────────────────────────────────────────────────────
let config = ModelConfig.Tiny                          // hidden 32, 2 layers, 4 heads / 2 KV heads, vocab 99
let maskId = int64 (config.VocabSize - 1)              // reserve the last id as [MASK]
let model = (new Qwen2Model(config)).InitializeWeights(seed = 0L)
model.eval ()
printfn "model: %d parameters" model.ParameterCount

let gen = new torch.Generator(0UL)
let x0 = torch.randint(0L, maskId, [| 2L; 12L |], generator = gen)          // [B, L] clean tokens, never the mask id
do
    use _ = torch.no_grad ()
    let causal = model.Logits(x0, AttentionPolicy.Causal)
    let bidirectional = model.Logits(x0, AttentionPolicy.Bidirectional)
    printfn "logits: causal %A, bidirectional %A" causal.shape bidirectional.shape
    let firstDiff = (causal.select(1, 0L) - bidirectional.select(1, 0L)).abs().max().item<float32>()
    printfn "position 0: max |causal − bidirectional| = %.4g (only bidirectional attention sees later tokens)" firstDiff
    check (bidirectional.shape = [| 2L; 12L; int64 config.VocabSize |]) "logits shape"
    check (firstDiff > 0.0f) "bidirectional attention changes position 0"

// ── 3. The MDLM loss: x_t from the forward process, cross entropy on the masked positions, weighted by w(t) ─────────────
do
    use scope = torch.NewDisposeScope()
    model.train ()
    let schedule = MaskSchedules.Create "linear"
    let t = torch.rand([| 2L; 1L |], generator = gen) * 0.8 + 0.1                 // one time per sequence, in [0.1, 0.9)
    let batch = ForwardMasking.Apply(x0, t, schedule, maskId, null, gen)
    let logits = model.Logits(batch.Tokens, AttentionPolicy.Bidirectional)
    let options = MdlmLossOptions(Schedule = schedule, MaskTokenId = Nullable maskId)
    let result = MdlmLoss.Compute(logits, x0, batch.Masked, batch.TPerToken, options)
    result.Loss.backward ()
    let gradNorm = model.parameters () |> Seq.sumBy (fun p -> p.grad.square().sum().item<float32>() |> float) |> sqrt
    let loss = result.Loss.item<float32>()
    printfn "MDLM loss %.4f over %d masked tokens (t = %A); gradient norm %.4g" loss result.NumTargets
        (t.squeeze().data<float32>().ToArray()) gradNorm
    check (Single.IsFinite loss && loss > 0.0f) "finite positive loss"
    check (Double.IsFinite gradNorm && gradNorm > 0.0) "finite non-zero gradient"
    model.zero_grad ()
    model.eval ()

// ── 4. The masked-diffusion sampler (maskgit_plus), with its trajectory ────────────────────────────────────────────────
do
    use _ = torch.no_grad ()
    let prompt = [| 5L; 17L; 42L; 7L |] :> IReadOnlyList<int64>
    let canvas = Canvas.ForCompletion([| prompt |], 6, maskId, 0L)
    let sampler = MaskedDiffusionSampler(MaskedDiffusionOptions(Steps = 6, RecordTrajectory = true))
    let output = sampler.Sample(ModelDenoiser(model, maskId, false), canvas)
    let row = output.Sequences.[0].data<int64>().ToArray()
    printfn "sampler %s: %A in %d forwards; trajectory of %d steps" sampler.Name row output.Forwards output.Trajectory.Steps.Count
    printfn "commit step per position: %A" (output.Trajectory.CommitStep().[0])
    check (row |> Array.forall (fun id -> id <> maskId)) "no mask left"
    check (row.[0..3] = [| 5L; 17L; 42L; 7L |]) "prompt kept"

// ── 5. A property, checked with FsCheck: α(t) never increases, for every schedule ──────────────────────────────────────
open FsCheck
open FsCheck.FSharp

let times = Gen.choose (0, 100_000) |> Gen.map (fun i -> float i / 100_000.0)
let pairs = Gen.zip times times |> Gen.map (fun (a, b) -> min a b, max a b) |> Arb.fromGen
for schedule in MaskSchedules.All do
    printf "α non-increasing, %-12s " schedule.Name
    let property = Prop.forAll pairs (fun (s, t) -> schedule.Alpha t <= schedule.Alpha s + 1e-12)
    Check.One(Config.QuickThrowOnFailure, property)
printfn "fsharp-repl: all checks passed"
