using OpenDllm.Methods.A2d;
using OpenDllm.Training;

namespace OpenDllm.Tests.Methods.A2d;

/// <summary><c>train.a2d</c> is bound strictly and only under <c>objective: a2d</c>.</summary>
public sealed class A2dRecipeTests
{
    [Fact]
    public void TheSectionBindsWithDefaults()
    {
        var r = Recipe.Parse("model: {preset: tiny}\ntrain: {objective: a2d, a2d: {align_weight: 10, teacher_dtype: bf16}}", "r.yaml");
        Assert.Equal(10, r.Train.A2d!.AlignWeight);
        Assert.Equal(TeacherDtype.Bf16, r.Train.A2d.TeacherDtype);
        Assert.Null(Recipe.Parse("model: {preset: tiny}\ntrain: {objective: a2d}", "r.yaml").Train.A2d);
    }

    [Fact]
    public void AnUnknownKeyInTheSectionIsAnError()
    {
        var e = Assert.ThrowsAny<Exception>(() => Recipe.Parse("model: {preset: tiny}\ntrain: {objective: a2d, a2d: {repr_align_wt: 10}}", "r.yaml"));
        Assert.Contains("repr_align_wt", e.Message);
    }

    [Theory]
    [InlineData("mdlm")]
    [InlineData("ar")]
    public void TheSectionUnderAnotherObjectiveIsAnError(string objective)
    {
        var e = Assert.ThrowsAny<ArgumentException>(() => Recipe.Parse($"model: {{preset: tiny}}\ntrain: {{objective: {objective}, a2d: {{align_weight: 10}}}}", "r.yaml"));
        Assert.Contains("train.a2d", e.Message);
        Assert.Contains(objective, e.Message);
    }

    [Theory]
    [InlineData("align_weight: -1", "train.a2d.align_weight")]
    [InlineData("align_weight: .nan", "train.a2d.align_weight")]
    [InlineData("teacher_dtype: fp16", "teacher_dtype")]
    public void BadValuesAreErrorsNamingTheKey(string entry, string key)
    {
        var e = Assert.ThrowsAny<Exception>(() => Recipe.Parse($"model: {{preset: tiny}}\ntrain: {{objective: a2d, a2d: {{{entry}}}}}", "r.yaml"));
        Assert.Contains(key, e.Message);
    }

    /// <summary>The five experiment recipes load, share everything but init, λ and freezing, and run a fixed number of steps.</summary>
    [Fact]
    public void TheExperimentRecipesDifferOnlyInInitAlignmentAndFreezing()
    {
        string[] names = ["a2d-scratch", "a2d-init", "a2d-align1", "a2d-align", "a2d-align-frozen"];
        var recipes = names.Select(n => Recipe.Load(Path.Combine(TestPaths.RepoRoot, "recipes", n + ".yaml"))).ToList();
        Assert.Equal([null, 0.0, 1.0, 10.0, 10.0], recipes.Select(r => r.Train.A2d?.AlignWeight));
        Assert.Equal("lm_head,embed_tokens", recipes[4].Train.FreezeLayers);
        Assert.All(recipes.Skip(1), r => Assert.Equal("recipes/a2d-ar.yaml", r.Model.InitFromRecipe));
        Assert.All(recipes, r => Assert.True(r.Model.ShiftedLogits));
        var blocks = new OpenDllm.Methods.Bd3lm.Bd3lmOptions();                                   // (holds an array: compared by reference)
        TrainSection Common(TrainSection t) => t with { Objective = "", A2d = null, FreezeLayers = null, OutputDir = "", Bd3lm = blocks };
        Assert.All(recipes, r => Assert.Equal(Common(recipes[0].Train), Common(r.Train)));
        Assert.All(recipes, r => Assert.Equal(recipes[0].Data, r.Data));
        Assert.All(recipes, r => Assert.False(r.Train.FitStepsToTime));
    }
}
