using OpenDllm.Checkpoints;

namespace OpenDllm.Training;

/// <summary>
/// <c>model.init_from_recipe</c>: a run that continues from another recipe's run (fine-tuning the quickstart model, say).
/// The base recipe's newest complete checkpoint becomes <c>model.init_from</c>; when the base run has none yet it is
/// trained first by the caller's <c>trainBase</c> (<c>opendllm train</c> does this and says so), or it is an error.
/// </summary>
public static class BaseRun
{
    /// <summary>
    /// <paramref name="recipe"/> with <c>model.init_from</c> set to the checkpoint its <c>model.init_from_recipe</c> names
    /// (unchanged when that key is absent). A run that already has a checkpoint of its own resumes from it, so the base
    /// run is then neither needed nor trained: the run's own newest checkpoint (same architecture) is the starting model,
    /// and the resume replaces its weights anyway.
    /// </summary>
    /// <param name="trainBase">Trains the base recipe and returns its final checkpoint; null to require an existing one.</param>
    /// <param name="log">Receives one line saying which checkpoint the run starts from, or that the base run is trained first.</param>
    /// <exception cref="FileNotFoundException">The base recipe does not exist.</exception>
    /// <exception cref="InvalidOperationException">No base checkpoint and no <paramref name="trainBase"/>.</exception>
    public static Recipe Resolve(Recipe recipe, Func<Recipe, string>? trainBase, Action<string>? log = null)
    {
        if (recipe.Model.InitFromRecipe is not { } path) return recipe;
        if (!File.Exists(path))
            throw new FileNotFoundException($"model.init_from_recipe = {path}: recipe not found (paths are relative to the current folder, {Environment.CurrentDirectory})", path);
        var baseRecipe = Recipe.Load(path);
        if (baseRecipe.Data.Tokenizer != recipe.Data.Tokenizer)
            throw new ArgumentException($"model.init_from_recipe = {path}: its tokenizer is {baseRecipe.Data.Tokenizer}, this recipe's data.tokenizer is {recipe.Data.Tokenizer}");
        var baseOutput = baseRecipe.Train.OutputDir;
        string start;
        if (CheckpointStore.Latest(recipe.Train.OutputDir) is { } own)
            start = InitialModelOf(own) ?? own;   // the weights the run started from (an a2d teacher copies them), else its own
        else if (CheckpointStore.Latest(baseOutput) is { } latest)
        {
            start = latest;
            log?.Invoke($"initialising from {latest} (the newest checkpoint of {path})");
        }
        else if (trainBase is not null)
        {
            log?.Invoke($"{baseOutput} has no checkpoint of {path} yet: training that run first, then this one");
            start = trainBase(baseRecipe);
            log?.Invoke($"initialising from {start} (the checkpoint {path} just wrote)");
        }
        else
            throw new InvalidOperationException($"model.init_from_recipe = {path}: no checkpoint in {baseOutput} yet; train it first " +
                $"(`opendllm train {path}`, which `opendllm train` on this recipe does for you)");
        bool shifted = recipe.Model.ShiftedLogits ?? baseRecipe.Model.ShiftedLogits ?? baseRecipe.Model.InitFrom is not null;
        return recipe with { Model = recipe.Model with { InitFrom = start, InitFromRecipe = null, ShiftedLogits = shifted } };
    }

    /// <summary>The <c>model.init_from</c> a checkpoint's saved recipe started from, when that folder still holds a checkpoint.</summary>
    static string? InitialModelOf(string checkpoint)
    {
        var saved = Path.Combine(checkpoint, "recipe.json");
        if (!File.Exists(saved)) return null;
        try { return Recipe.Load(saved).Model.InitFrom is { } init && File.Exists(Path.Combine(init, "config.json")) ? init : null; }
        catch (Exception e) when (e is IOException or ArgumentException or InvalidDataException or System.Text.Json.JsonException) { return null; }
    }
}
