// schedules: the masking schedules side by side: α(t), the ELBO weight w(t), and how samplers spread masks over steps.
//
//   dotnet run recipes/schedules.cs                     # t = 0, 0.1, …, 1; quotas for 10 masks / 4 steps and 32 / 8
//   dotnet run recipes/schedules.cs -- --small          # coarser grid (t = 0, 0.25, …, 1), for CI (or OPENDLLM_RECIPE_SMALL=1)
//   dotnet run recipes/schedules.cs -- --masks 64 --steps 16
//
// What it does: for every schedule registered in MaskSchedules (linear, cosine, loglinear, square, square_root, log) it
// prints α(t), the probability that a token is still clean at time t (1 at t = 0, about 0 at t = 1), and
// w(t) = −α′(t) / (1 − α(t)), the weight of the masked-token cross entropy in the MDLM bound (∞ at t = 0), and checks that
// α never increases. Then the transfer quotas: how many of n masked tokens a sampler commits at each of its steps under
// Dream's rule (maskgit_plus and friends), LLaDA's even split, and dllm's α-scheduled rule for each schedule.
//
// How long: instant after the first build.
//
// What you should see: two tables (linear: α = 1 − t, w = 1/t), "α non-increasing: yes" for every schedule, and quota
// rows that each sum to n (Dream's rule puts the remainder on the last step, LLaDA's on the first steps; the α rule drops
// empty steps, so a row can be shorter than the step count).
#:project ../OpenDllm.Core/OpenDllm.Core.csproj
#:property OpenDllmTorchNatives=true

using System.Globalization;
using OpenDllm.Runtime;
using OpenDllm.Sampling.Transfer;
using OpenDllm.Schedules;

bool small = args.Contains("--small") || Environment.GetEnvironmentVariable("OPENDLLM_RECIPE_SMALL") is "1" or "true";
int? masks = IntOption("--masks");
int? stepsOption = IntOption("--steps");
int points = small ? 4 : 10;
var grid = Enumerable.Range(0, points + 1).Select(i => (double)i / points).ToArray();
var schedules = MaskSchedules.All;

string Cell(double v) => double.IsPositiveInfinity(v) ? "∞" : double.IsNaN(v) ? "nan" : v.ToString(v >= 1000 ? "0.0e0" : "0.0000", CultureInfo.InvariantCulture);
void Table(string title, Func<IMaskSchedule, double, double> f)
{
    Console.WriteLine(title);
    Console.WriteLine($"{"t",6} " + string.Join(" ", schedules.Select(s => $"{s.Name,11}")));
    foreach (var t in grid)
        Console.WriteLine($"{t,6:0.00} " + string.Join(" ", schedules.Select(s => $"{Cell(f(s, t)),11}")));
    Console.WriteLine();
}
Table("α(t): probability that a token is still clean at time t", (s, t) => s.Alpha(t));
Table("w(t) = −α′(t) / (1 − α(t)): MDLM loss weight", (s, t) => s.LossWeight(t));

var fine = Enumerable.Range(0, 1001).Select(i => i / 1000.0).ToArray();
bool allMonotone = true;
foreach (var s in schedules)
{
    bool monotone = fine.Zip(fine.Skip(1)).All(p => s.Alpha(p.Second) <= s.Alpha(p.First) + 1e-12);
    allMonotone &= monotone;
    Console.WriteLine($"{s.Name,-12} α(0) = {s.Alpha(0):0.####}, α(1) = {s.Alpha(1):0.####}, α non-increasing: {(monotone ? "yes" : "NO")}");
}
Console.WriteLine();

TorchRuntime.EnsureLoaded();                     // Dream's time grid is computed by libtorch in float32, bit-identical to torch
foreach (var (n, steps) in masks is { } m ? new[] { (m, stepsOption ?? 8) } : small ? new[] { (10, 4) } : new[] { (10, 4), (32, 8) })
{
    Console.WriteLine($"transfer quotas: {n} masks over {steps} steps (tokens committed per step)");
    void Row(string name, int[] q) => Console.WriteLine($"  {name,-22} [{string.Join(", ", q)}]  sum {q.Sum()}");
    Row("dream (maskgit_plus)", DreamTransferSchedule.Quotas(n, steps));
    Row("llada", LladaTransferSchedule.Quotas(n, steps));
    foreach (var s in schedules) Row($"alpha: {s.Name}", AlphaTransferSchedule.Quotas(n, steps, s));
    Console.WriteLine();
}
return allMonotone ? 0 : 1;

int? IntOption(string name)
{
    int i = Array.IndexOf(args, name);
    return i >= 0 && i + 1 < args.Length ? int.Parse(args[i + 1], CultureInfo.InvariantCulture) : null;
}
