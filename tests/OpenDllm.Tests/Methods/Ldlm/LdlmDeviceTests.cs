using OpenDllm.Methods.Ldlm;
using OpenDllm.Sampling;
using OpenDllm.Tests.Checkpoints;
using OpenDllm.Tests.Devices;
using TorchSharp;
using static TorchSharp.torch;

namespace OpenDllm.Tests.Methods.Ldlm;

/// <summary>LDLM's modules on a device: the same seed gives the CPU's weights, and the outputs match the CPU's.</summary>
public sealed class LdlmDeviceTests
{
    [Theory, OnCpu, OnCuda]
    public void ModulesBuiltOrLoadedOnADeviceMatchTheCpu(string deviceName)
    {
        var device = TestDevices.Parse(deviceName);
        var arch = LdlmTestArchitecture.Small;
        using var cpu = new LdlmModules(arch, seed: 13);
        using var onDevice = new LdlmModules(arch, seed: 13, device);
        cpu.eval(); onDevice.eval();
        var deviceState = onDevice.state_dict();
        foreach (var (key, value) in cpu.state_dict())
        {
            Assert.Equal(device.type, deviceState[key].device_type);
            Assert.True(Fixture.Same(value, deviceState[key].cpu()), key);
        }

        using var scope = NewDisposeScope();
        using var g = SeededDraws.ForSeed(14);
        using (no_grad()) foreach (var (p, q) in cpu.Denoiser.parameters().Zip(onDevice.Denoiser.parameters()))
        {
            var noise = randn(p.shape, generator: g) * 0.1;                 // the same step away from the zero init on both
            p.add_(noise); q.add_(noise.to(device));
        }
        var h = randn([2, arch.Length, arch.EncoderHiddenSize], generator: g);
        var padding = arange(arch.Length).unsqueeze(0) < tensor(new long[] { 3, 8 }).unsqueeze(1);
        var t = tensor(new[] { 0.25f, 0.75f });
        var z = cpu.Encoder.Encode(h, padding);
        var zDevice = onDevice.Encoder.Encode(h.to(device), padding.to(device));
        Assert.True(Fixture.MaxAbsDiff(z, zDevice.cpu()) < 1e-4);
        Assert.True(Fixture.MaxAbsDiff(cpu.Logits(z), onDevice.Logits(z.to(device)).cpu()) < 1e-4);
        Assert.True(Fixture.MaxAbsDiff(cpu.Denoiser.PredictX0(z, t, z), onDevice.Denoiser.PredictX0(z.to(device), t.to(device), z.to(device)).cpu()) < 1e-4);

        using var dir = new TempDir();
        onDevice.Save(dir.Path);
        using var loaded = LdlmModules.Load(dir.Path, device);
        loaded.eval();
        Assert.True(Fixture.Same(onDevice.Logits(zDevice).cpu(), loaded.Logits(zDevice).cpu()));
    }
}
