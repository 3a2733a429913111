using OpenDllm.Config;
using OpenDllm.Models;
using OpenDllm.Runtime;

namespace OpenDllm.Tests.Training;

/// <summary>The memory lower bound on known shapes.</summary>
public sealed class MemoryEstimateTests
{
    [Fact]
    public void ParameterCountMatchesTheModules()
    {
        Assert.Equal(494_032_768, MemoryEstimate.ParameterCount(ModelConfig.Qwen2_5_Coder_0_5B));   // Qwen2.5-0.5B's published size
        foreach (var config in new[] { ModelConfig.Tiny, ModelConfig.Tiny with { TieWordEmbeddings = false, NumKeyValueHeads = 4 } })
        {
            using var model = new Qwen2Model(config);
            Assert.Equal(model.ParameterCount, MemoryEstimate.ParameterCount(config));
        }
    }

    [Fact]
    public void TrainingTermsFollowTheShapes()
    {
        var c = ModelConfig.Qwen2_5_Coder_0_5B;   // D 896, I 4864, 24 layers, 14 heads / 2 KV heads of 64, V 151936
        var e = MemoryEstimate.ForTraining(c, microBatch: 8, sequenceLength: 4096, elementBytes: 4, documentMask: true);
        long Part(string name) => e.Parts.Single(p => p.Name == name).Bytes;
        long p = 494_032_768;
        Assert.Equal(4 * p, Part("weights"));                                        // float32
        Assert.Equal(4 * p, Part("gradients"));
        Assert.Equal(2 * 4 * p, Part("AdamW moments"));
        Assert.Equal(256L << 20, Part("logits (one chunk)"));                        // the chunked head: one 256 MiB chunk, not 19.9 GB
        Assert.Equal(8L * 4096 * 4096, Part("attention mask"));
        Assert.Equal(24L * 8 * 4096 * (4 * 896 + 2 * 14 * 64 + 2 * 2 * 64 + 3 * 4864) * 4, Part("activations"));
        Assert.Equal(e.Parts.Sum(x => x.Bytes), e.Bytes);
        Assert.True(e.Bytes > 40_000_000_000, MemoryEstimate.Format(e.Bytes));

        var chunks = MemoryEstimate.ForTraining(c, 8, 4096, 2, documentMask: false);
        Assert.DoesNotContain(chunks.Parts, x => x.Name == "attention mask");
        Assert.Equal(Part("weights") / 2, chunks.Parts.Single(x => x.Name == "weights").Bytes);   // bfloat16
    }

    [Fact]
    public void SamplingCountsTheCacheOnlyWhenThereIsOne()
    {
        var c = ModelConfig.Qwen2_5_Coder_0_5B;
        var plain = MemoryEstimate.ForSampling(c, 1, 30_000, 4, kvCache: false);
        var cached = MemoryEstimate.ForSampling(c, 1, 30_000, 4, kvCache: true);
        Assert.Equal(30_000L * 151936 * 4, plain.Parts.Single(x => x.Name == "logits").Bytes);
        Assert.Equal(2L * 24 * 30_000 * 2 * 64 * 4, cached.Bytes - plain.Bytes);
    }

    [Fact]
    public void HugeShapesSaturateInsteadOfOverflowing()
    {
        var e = MemoryEstimate.ForTraining(ModelConfig.Qwen2_5_Coder_0_5B, 1 << 20, 1L << 40, 4, documentMask: true);
        Assert.True(e.Parts.All(p => p.Bytes > 0));
        Assert.Equal(long.MaxValue, e.Parts.Single(p => p.Name == "attention mask").Bytes);
    }

    [Fact]
    public void EnsureFitsRefusesWithBothNumbersOnlyWhenTheBoundExceedsWhatIsAvailable()
    {
        var e = MemoryEstimate.ForTraining(ModelConfig.Qwen2_5_Coder_0_5B, 8, 4096, 4, documentMask: true);
        var error = Assert.Throws<InsufficientMemoryException>(() => e.EnsureFits(24_000_000_000, "this machine", "lower data.seq_len"));
        Assert.Contains(MemoryEstimate.Format(e.Bytes), error.Message);
        Assert.Contains("24.0 GB", error.Message);
        Assert.Contains("activations", error.Message);
        Assert.Contains("lower data.seq_len", error.Message);
        e.EnsureFits(e.Bytes, "this machine", "");                                // exactly enough: no refusal
        e.EnsureFits(null, "unknown", "");                                          // unknown memory: no check
        Assert.True(MemoryEstimate.AvailableBytes(TorchSharp.torch.CPU) is null or > 0);
    }
}
