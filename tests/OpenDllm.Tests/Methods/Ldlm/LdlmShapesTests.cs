using OpenDllm.Methods.Ldlm;
using OpenDllm.Training;

namespace OpenDllm.Tests.Methods.Ldlm;

public class LdlmShapesTests
{
    /// <summary>recipes/ldlm-tiny.yaml and <see cref="LdlmShapes.Tiny"/> describe the same modules (one shape, two places to read it).</summary>
    [Fact]
    public void TinyIsTheTinyRecipesModules()
    {
        var recipe = Recipe.Load(Path.Combine(TestPaths.RepoRoot, "recipes", "ldlm-tiny.yaml"));
        Assert.Equal(LdlmShapes.Tiny(256, 262, 64), recipe.Train.Ldlm!.ArchitectureFor(256, 262, 64));
    }

    [Fact]
    public void SeedTableHasTheSeedsLayerCounts()
    {
        var seed = LdlmShapes.Named("seed-35b-a3b", 896, 151_936, 64);
        Assert.Equal((4, 4, 8, 2, 8, 3, 8), (seed.EncoderLayers, seed.DecoderLayers, seed.PerceiverHeads, seed.TokenDecoderLayers,
                                               seed.TokenDecoderHeads, seed.DitLayers, seed.DitHeads));
        Assert.Equal((896L, 151_936, 64L), (seed.EncoderHiddenSize, seed.VocabSize, seed.Length));
    }

    [Fact]
    public void UnknownNamesAndWidthsAreRefused()
    {
        Assert.Contains("tiny, seed-35b-a3b", Assert.Throws<ArgumentException>(() => LdlmShapes.Named("huge", 896, 100, 64)).Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => LdlmShapes.SeedTable(900, 100, 64));        // 8 heads do not divide 900
    }
}
