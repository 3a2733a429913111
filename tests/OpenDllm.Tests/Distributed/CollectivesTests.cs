using System.Net;
using System.Net.Sockets;
using OpenDllm.Distributed;
using TorchSharp;
using static TorchSharp.torch;

namespace OpenDllm.Tests.Distributed;

public sealed class CollectivesTests
{
    static Func<string, string?> Env(params (string Name, string Value)[] values) =>
        name => values.FirstOrDefault(v => v.Name == name).Value;

    [Fact]
    public void A_process_started_alone_is_a_job_of_one()
    {
        var group = Collectives.FromEnvironment(CPU, Env());
        Assert.Same(SingleProcessGroup.Instance, group);
        Assert.Equal((0, 1, "single"), (group.Rank, group.WorldSize, group.Backend));
    }

    [Fact]
    public void Torchrun_variables_on_a_cpu_device_point_to_mpirun()
    {
        var e = Assert.Throws<InvalidOperationException>(() => Collectives.FromEnvironment(CPU, Env(("WORLD_SIZE", "2"), ("RANK", "0"))));
        Assert.Contains("mpirun -np N", e.Message);
    }

    [Fact]
    public void A_cpu_job_of_one_torchrun_rank_is_a_single_process()
    {
        Assert.Same(SingleProcessGroup.Instance, Collectives.FromEnvironment(CPU, Env(("WORLD_SIZE", "1"), ("RANK", "0"))));
    }

    [Theory]
    [InlineData("0")]
    [InlineData("-5")]
    [InlineData("soon")]
    public void A_bad_timeout_is_refused_by_name(string value)
    {
        var e = Assert.Throws<InvalidOperationException>(() => Collectives.TimeoutFrom(Env((Collectives.TimeoutVariable, value))));
        Assert.Contains(Collectives.TimeoutVariable, e.Message);
    }

    [Fact]
    public void The_timeout_defaults_to_ten_minutes_and_reads_seconds()
    {
        Assert.Equal(TimeSpan.FromMinutes(10), Collectives.TimeoutFrom(Env()));
        Assert.Equal(TimeSpan.FromSeconds(2.5), Collectives.TimeoutFrom(Env((Collectives.TimeoutVariable, "2.5"))));
    }

    [Fact]
    public void Each_local_rank_gets_its_own_cuda_device_and_the_cpu_stays()
    {
        Assert.Equal(3, Collectives.LocalDevice(new Device(DeviceType.CUDA), Env(("LOCAL_RANK", "3"))).index);
        Assert.Equal(1, Collectives.LocalDevice(new Device(DeviceType.CUDA), Env(("OMPI_COMM_WORLD_LOCAL_RANK", "1"))).index);
        Assert.Equal(0, Collectives.LocalDevice(new Device(DeviceType.CUDA, 0), Env(("LOCAL_RANK", "3"))).index);   // an explicit index wins
        Assert.Equal(DeviceType.CPU, Collectives.LocalDevice(CPU, Env(("LOCAL_RANK", "3"))).type);
    }

    [Fact]
    public void The_single_group_leaves_buffers_as_they_are_and_gathers_a_copy()
    {
        var g = SingleProcessGroup.Instance;
        using var x = arange(4, dtype: ScalarType.Float32);
        g.AllReduceSum(x);
        g.Broadcast(x);
        using var all = zeros(4);
        g.AllGather(x, all);
        Assert.Equal(new float[] { 0, 1, 2, 3 }, all.data<float>().ToArray());
        using var view = arange(6, dtype: ScalarType.Float32).reshape(2, 3).t();
        Assert.Contains("contiguous", Assert.Throws<ArgumentException>(() => g.AllReduceSum(view)).Message);
    }

    [Fact]
    public void Nccl_is_looked_for_beside_the_loaded_torch_first()
    {
        var candidates = NcclNative.Candidates(Env(("OPENDLLM_NCCL", "/opt/nccl/libnccl.so.2")), ["/venv/site-packages/torch/lib/libtorch_cuda.so"]).ToList();
        Assert.Equal("/opt/nccl/libnccl.so.2", candidates[0]);
        Assert.Equal("/venv/site-packages/nvidia/nccl/lib/libnccl.so.2", candidates[1]);
        Assert.Equal("libnccl.so.2", candidates[^2]);
    }
}

public sealed class TcpRendezvousTests
{
    static int FreePort()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        int port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }

    [Fact]
    public async Task Rank_0_s_payload_reaches_every_rank()
    {
        int port = FreePort();
        var payload = Enumerable.Range(0, 128).Select(i => (byte)i).ToArray();
        var tasks = Enumerable.Range(0, 3).Select(r => Task.Run(() =>
            new TcpRendezvous(r, 3, "127.0.0.1", port, r).Exchange(() => payload, TimeSpan.FromSeconds(60)))).ToArray();
        foreach (var t in tasks) Assert.Equal(payload, await t);
    }

    [Fact]
    public async Task A_rank_told_another_world_size_is_refused()
    {
        int port = FreePort();
        var root = Task.Run(() => new TcpRendezvous(0, 2, "127.0.0.1", port, 0).Exchange(() => [1, 2, 3], TimeSpan.FromSeconds(60)));
        var other = Task.Run(() => new TcpRendezvous(1, 3, "127.0.0.1", port, 1).Exchange(() => [], TimeSpan.FromSeconds(60)));
        var e = await Assert.ThrowsAsync<InvalidOperationException>(() => root);
        Assert.Contains("WORLD_SIZE=3", e.Message);
        await Assert.ThrowsAsync<InvalidDataException>(() => other);
    }

    [Fact]
    public void A_rank_whose_rank_0_never_comes_times_out()
    {
        var e = Assert.Throws<TimeoutException>(() => new TcpRendezvous(1, 2, "127.0.0.1", FreePort(), 1).Exchange(() => [], TimeSpan.FromSeconds(1)));
        Assert.Contains("did not answer", e.Message);
    }

    [Fact]
    public void Missing_torchrun_variables_are_named()
    {
        var e = Assert.Throws<InvalidOperationException>(() => TcpRendezvous.FromEnvironment(n => n == "WORLD_SIZE" ? "2" : n == "RANK" ? "1" : null));
        Assert.Contains("MASTER_ADDR", e.Message);
    }
}
