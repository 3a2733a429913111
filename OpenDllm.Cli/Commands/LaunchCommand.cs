using System.CommandLine;
using System.Diagnostics;
using System.Runtime.InteropServices;

namespace OpenDllm.Cli.Commands;

/// <summary>
/// `opendllm launch --nproc-per-node N [--nnodes M --node-rank K --master-addr HOST --master-port PORT] -- train RECIPE ...`:
/// a torchrun-like launcher for CUDA (NCCL) jobs. It starts N copies of <c>opendllm</c> on this machine with
/// <c>RANK</c>, <c>LOCAL_RANK</c>, <c>WORLD_SIZE</c>, <c>LOCAL_WORLD_SIZE</c>, <c>MASTER_ADDR</c> and <c>MASTER_PORT</c> set;
/// run it once per node with the same settings and that node's <c>--node-rank</c>. When a rank exits with an error the
/// others are stopped (SIGTERM, then killed after a grace period) and its exit code is returned; Ctrl-C and SIGTERM are
/// passed on to every rank. CPU jobs use MPI instead: <c>mpirun -np N opendllm train ...</c>.
/// </summary>
public static class LaunchCommand
{
    public static Command Create()
    {
        var perNode = new Option<int>("--nproc-per-node") { Description = "Processes (GPUs) on this machine.", Required = true };
        var nodes = new Option<int>("--nnodes") { Description = "Machines in the job.", DefaultValueFactory = _ => 1 };
        var nodeRank = new Option<int>("--node-rank") { Description = "This machine's index, 0 … nnodes − 1 (0 hosts the rendezvous).", DefaultValueFactory = _ => 0 };
        var address = new Option<string>("--master-addr") { Description = "Address of node 0, reachable from every node.", DefaultValueFactory = _ => "127.0.0.1" };
        var port = new Option<int>("--master-port") { Description = "A free TCP port on node 0 for the rendezvous.", DefaultValueFactory = _ => 29500 };
        var command = new Argument<string[]>("command") { Description = "The opendllm command every rank runs, after --: train RECIPE [--section.key=value ...].", Arity = ArgumentArity.OneOrMore };
        var launch = new Command("launch", "Start a data-parallel CUDA (NCCL) job torchrun-style: N ranks on this machine, each with RANK, LOCAL_RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT.")
            { perNode, nodes, nodeRank, address, port, command };
        launch.SetAction(p => CliErrors.Run(() =>
        {
            var plan = new LaunchPlan(p.GetValue(perNode), p.GetValue(nodes), p.GetValue(nodeRank), p.GetValue(address)!, p.GetValue(port));
            plan.Validate();
            var (file, prefix) = SelfCommand();
            return Run(file, [.. prefix, .. p.GetValue(command)!], plan, Console.Error);
        }));
        return launch;
    }

    /// <summary>How this program is started again: the apphost, or <c>dotnet opendllm.dll</c>.</summary>
    static (string File, string[] Prefix) SelfCommand()
    {
        var process = Environment.ProcessPath ?? throw new InvalidOperationException("cannot tell this program's path to start the ranks");
        var dll = typeof(LaunchCommand).Assembly.Location;
        return Path.GetFileNameWithoutExtension(process) == "dotnet" ? (process, [dll]) : (process, []);
    }

    /// <summary>One node's share of a job.</summary>
    public sealed record LaunchPlan(int PerNode, int Nodes, int NodeRank, string MasterAddress, int MasterPort)
    {
        public int WorldSize => PerNode * Nodes;

        public void Validate()
        {
            if (PerNode < 1) throw new ArgumentException($"--nproc-per-node {PerNode}: expected ≥ 1");
            if (Nodes < 1) throw new ArgumentException($"--nnodes {Nodes}: expected ≥ 1");
            if (NodeRank < 0 || NodeRank >= Nodes) throw new ArgumentException($"--node-rank {NodeRank}: expected 0 … {Nodes - 1}");
            if (MasterPort is < 1 or > 65535) throw new ArgumentException($"--master-port {MasterPort}: expected 1 … 65535");
        }

        /// <summary>The variables of local rank <paramref name="local"/> (SPEC: torchrun's names).</summary>
        public IReadOnlyDictionary<string, string> Environment(int local) => new Dictionary<string, string>
        {
            ["RANK"] = (NodeRank * PerNode + local).ToString(), ["LOCAL_RANK"] = local.ToString(),
            ["WORLD_SIZE"] = WorldSize.ToString(), ["LOCAL_WORLD_SIZE"] = PerNode.ToString(),
            ["MASTER_ADDR"] = MasterAddress, ["MASTER_PORT"] = MasterPort.ToString(),
        };
    }

    /// <summary>Runs the ranks of <paramref name="plan"/> on this machine and waits: 0 when all succeed, else the first
    /// failing rank's exit code (the others are stopped).</summary>
    public static int Run(string file, IReadOnlyList<string> arguments, LaunchPlan plan, TextWriter log, TimeSpan? grace = null)
    {
        var ranks = new List<Process>();
        using var stop = new CancellationTokenSource();
        void Forward(PosixSignalContext context)
        {
            context.Cancel = true;
            foreach (var r in ranks) Signal(r, Sigterm);
        }
        using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, Forward);
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Forward);
        try
        {
            for (int local = 0; local < plan.PerNode; local++)
            {
                var info = new ProcessStartInfo(file) { UseShellExecute = false };
                foreach (var a in arguments) info.ArgumentList.Add(a);
                foreach (var (name, value) in plan.Environment(local)) info.Environment[name] = value;
                ranks.Add(Process.Start(info) ?? throw new InvalidOperationException($"could not start {file}"));
            }
            int failed = 0;
            var pending = ranks.ToList();
            while (pending.Count > 0)
            {
                var done = pending.FirstOrDefault(r => r.HasExited);
                if (done is null) { Thread.Sleep(100); continue; }
                pending.Remove(done);
                int rank = plan.NodeRank * plan.PerNode + ranks.IndexOf(done);
                if (done.ExitCode != 0 && failed == 0)
                {
                    failed = done.ExitCode;
                    log.WriteLine($"launch: rank {rank} exited with code {done.ExitCode}; stopping the other ranks on this node");
                    foreach (var r in pending) Signal(r, Sigterm);
                    var deadline = DateTime.UtcNow + (grace ?? TimeSpan.FromSeconds(30));
                    while (pending.Any(r => !r.HasExited) && DateTime.UtcNow < deadline) Thread.Sleep(100);
                    foreach (var r in pending.Where(r => !r.HasExited)) r.Kill();
                }
            }
            return failed;
        }
        finally
        {
            foreach (var r in ranks) { if (!r.HasExited) r.Kill(); r.Dispose(); }
        }
    }

    const int Sigterm = 15;

    static void Signal(Process process, int signal)
    {
        if (!process.HasExited) _ = Kill(process.Id, signal);
    }

    [DllImport("libc", EntryPoint = "kill")]
    static extern int Kill(int pid, int signal);
}
