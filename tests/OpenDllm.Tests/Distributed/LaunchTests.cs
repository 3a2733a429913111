using OpenDllm.Cli.Commands;

namespace OpenDllm.Tests.Distributed;

public sealed class LaunchTests
{
    [Fact]
    public void Every_rank_gets_torchrun_s_variables()
    {
        using var temp = new OpenDllm.Tests.Data.DataTemp();
        var plan = new LaunchCommand.LaunchPlan(2, 3, 1, "10.0.0.7", 29511);
        int code = LaunchCommand.Run("/bin/sh", ["-c", $"echo $RANK $LOCAL_RANK $WORLD_SIZE $LOCAL_WORLD_SIZE $MASTER_ADDR $MASTER_PORT > {temp.Path}/rank$LOCAL_RANK"],
                                     plan, TextWriter.Null);
        Assert.Equal(0, code);
        Assert.Equal("2 0 6 2 10.0.0.7 29511", File.ReadAllText($"{temp.Path}/rank0").Trim());
        Assert.Equal("3 1 6 2 10.0.0.7 29511", File.ReadAllText($"{temp.Path}/rank1").Trim());
    }

    [Fact]
    public void A_failing_rank_stops_the_others_and_its_exit_code_is_the_job_s()
    {
        using var temp = new OpenDllm.Tests.Data.DataTemp();
        var log = new StringWriter();
        var plan = new LaunchCommand.LaunchPlan(2, 1, 0, "127.0.0.1", 29500);
        // rank 0 fails at once; rank 1 leaves a file after 20 s unless it is stopped first
        int code = LaunchCommand.Run("/bin/sh", ["-c", $"if [ $LOCAL_RANK = 0 ]; then exit 3; else sleep 20 && touch {temp.Path}/finished; fi"],
                                     plan, log, TimeSpan.FromSeconds(2));
        Assert.Equal(3, code);
        Assert.Contains("rank 0 exited with code 3", log.ToString());
        Assert.False(File.Exists($"{temp.Path}/finished"), "rank 1 ran to its end: it was not stopped");
    }

    [Theory]
    [InlineData(0, 1, 0, "--nproc-per-node")]
    [InlineData(2, 2, 2, "--node-rank")]
    public void A_bad_plan_is_refused_by_option(int perNode, int nodes, int nodeRank, string option)
    {
        var e = Assert.Throws<ArgumentException>(() => new LaunchCommand.LaunchPlan(perNode, nodes, nodeRank, "h", 1).Validate());
        Assert.StartsWith(option, e.Message);
    }
}
