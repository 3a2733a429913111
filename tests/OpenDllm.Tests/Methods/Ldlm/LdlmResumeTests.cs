using System.Text.Json;
using OpenDllm.Checkpoints;
using OpenDllm.Methods.Ldlm;
using OpenDllm.Training;

namespace OpenDllm.Tests.Methods.Ldlm;

/// <summary>
/// An LDLM run resumes exactly (SPEC §6.5: the adaptive sampler's EMA is part of the checkpoint): N steps, save, resume,
/// N more give the same modules, losses and sampler state as 2N steps straight. A checkpoint holds the trained modules and
/// the encoder reference, never the encoder's weights.
/// </summary>
public sealed class LdlmResumeTests : IDisposable
{
    readonly string _root = Directory.CreateTempSubdirectory("opendllm-ldlm-resume-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    Recipe RecipeFor(string output, long steps)
    {
        var corpus = Path.Combine(_root, "corpus");
        if (!Directory.Exists(corpus))
        {
            Directory.CreateDirectory(corpus);
            for (int f = 0; f < 12; f++) File.WriteAllText(Path.Combine(corpus, $"f{f}.py"), $"def f{f}(x):\n    return x * {f} + {f * f}\n" + new string('#', 40 + f));
        }
        return Recipe.Parse($$"""
            model: { preset: tiny, config: { vocab_size: 262 } }
            data: { source: folder, path: {{corpus}}, tokenizer: byte, prepare_dir: {{Path.Combine(_root, "shards")}}, val_fraction: 0.2, seq_len: 16, packing: chunks }
            train:
              objective: ldlm
              ldlm:
                encoder_layer: -2
                adaptive_bins: 4
                adaptive_ema: 0.5
                validation_samples: 2
                validation_steps: 2
                modules: { latents: 4, latent_dim: 16, perceiver_heads: 2, encoder_layers: 1, decoder_layers: 1, ffn_multiplier: 2,
                           token_decoder_layers: 1, token_decoder_heads: 2, dit_layers: 1, dit_width: 32, dit_heads: 2 }
              micro_batch_size: 4
              global_batch_size: 8
              lr: 3.0e-3
              max_steps: {{steps}}
              eval_every: 0
              eval_batches: 1
              save_every: 0
              log_every: 1
              seed: 5
              threads: 1
              output_dir: {{output}}
            """, "ldlm-resume");
    }

    [Fact]
    public void InterruptAndResumeReproducesTheStraightRun()
    {
        const int n = 4;
        string straight = Path.Combine(_root, "straight"), split = Path.Combine(_root, "split");
        using (var trainer = Trainer.Create(RecipeFor(straight, 2 * n))) trainer.Run();
        using (var trainer = Trainer.Create(RecipeFor(split, 2 * n)))
        {
            for (int i = 0; i < n; i++) trainer.TrainStep();
            trainer.SaveCheckpoint();
        }
        using (var resumed = Trainer.Create(RecipeFor(split, 2 * n)))
        {
            Assert.Equal(n, resumed.Step);
            Assert.True(((LdlmMethod)resumed.Method).AdaptiveTimes!.IsWarm, "the restored sampler should carry the first run's EMA");
            resumed.Run();
        }
        string a = CheckpointStore.Latest(straight)!, b = CheckpointStore.Latest(split)!;
        Assert.False(File.Exists(Path.Combine(a, "model.safetensors")), "the frozen encoder must not be saved");
        Assert.True(File.Exists(Path.Combine(a, LdlmCheckpointInfo.FileName)));
        using (var x = SafetensorsFile.Open(Path.Combine(a, LdlmModules.WeightsFileName)))
        using (var y = SafetensorsFile.Open(Path.Combine(b, LdlmModules.WeightsFileName)))
            foreach (var entry in x.Entries)
                Assert.True(Fixture.Same(x.Read(entry.Name), y.Read(entry.Name)), $"{entry.Name} differs after resume");
        Assert.Equal(File.ReadAllText(Path.Combine(a, LdlmMethod.StateFile)), File.ReadAllText(Path.Combine(b, LdlmMethod.StateFile)));
        static List<double> Losses(string run) =>
            MetricsLog.Read(Path.Combine(run, MetricsLog.FileName)).Where(m => m.ContainsKey("loss")).Select(m => (double)m["loss"]!).ToList();
        Assert.Equal(Losses(straight).Skip(n), Losses(split).TakeLast(n));
        var state = JsonDocument.Parse(File.ReadAllText(Path.Combine(a, LdlmMethod.StateFile))).RootElement;
        Assert.Equal(2 * n, state.GetProperty("adaptive").GetProperty("updates").GetInt64());   // one EMA update per optimizer step
        Assert.Equal(32, state.GetProperty("hidden_mean").GetArrayLength());                    // the tiny preset's width
    }
}
