using OpenDllm.Methods.A2d;
using OpenDllm.Methods.Ar;
using OpenDllm.Methods.ArFim;
using OpenDllm.Methods.Bd3lm;
using OpenDllm.Methods.DreamOn;
using OpenDllm.Methods.Ldlm;
using OpenDllm.Methods.Mdlm;

namespace OpenDllm.Training;

/// <summary>
/// The training methods recipes can name in <c>train.objective</c>: the built-in ones and any registered from user code
/// (a notebook cell or a script can add its own before creating a <see cref="Trainer"/>). An unknown name is an error
/// that lists the known ones; there is no fallback.
/// </summary>
public static class TrainingMethods
{
    static readonly Dictionary<string, Func<TrainingMethodContext, ITrainingMethod>> Factories = new(StringComparer.Ordinal)
    {
        [MdlmMethod.MethodName] = context => new MdlmMethod(context),
        [ArMethod.MethodName] = context => new ArMethod(context),
        [ArFimMethod.MethodName] = context => new ArFimMethod(context),
        [Bd3lmMethod.MethodName] = context => new Bd3lmMethod(context),
        [A2dMethod.MethodName] = context => new A2dMethod(context),
        [LdlmMethod.MethodName] = context => new LdlmMethod(context),
        [DreamOnMethod.MethodName] = context => new DreamOnMethod(context),
    };
    static readonly Lock Gate = new();

    /// <summary>The names recipes may use, sorted.</summary>
    public static IReadOnlyList<string> Names
    {
        get { lock (Gate) return Factories.Keys.Order(StringComparer.Ordinal).ToList(); }
    }

    /// <summary>Adds (or replaces) a method under <paramref name="name"/>.</summary>
    public static void Register(string name, Func<TrainingMethodContext, ITrainingMethod> factory)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentNullException.ThrowIfNull(factory);
        lock (Gate) Factories[name] = factory;
    }

    /// <summary>Builds the method a recipe names in <c>train.objective</c>.</summary>
    public static ITrainingMethod Create(TrainingMethodContext context)
    {
        var name = context.Recipe.Train.Objective;
        Func<TrainingMethodContext, ITrainingMethod>? factory;
        lock (Gate) Factories.TryGetValue(name, out factory);
        if (factory is null)
            throw new ArgumentOutOfRangeException("train.objective", name, $"train.objective = {name}: unknown method; one of: {string.Join(", ", Names)}");
        return factory(context);
    }
}
