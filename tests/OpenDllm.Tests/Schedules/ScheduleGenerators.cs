using FsCheck;
using FsCheck.Fluent;
using OpenDllm.Schedules;

namespace OpenDllm.Tests.Schedules;

/// <summary>Generators that encode the schedules' domain: times on a 1/1000 grid, pairs and triples ordered by construction.</summary>
public static class ScheduleGenerators
{
    /// <summary>Every registered schedule plus non-default variants (dllm's cosine δ, a larger ε, p = 3).</summary>
    public static readonly IMaskSchedule[] Schedules =
        [.. MaskSchedules.All, new CosineSchedule(1e-6), new LogLinearSchedule(0.05), new PolynomialSchedule(3.0)];

    public static Gen<IMaskSchedule> Schedule => Gen.Elements(Schedules);

    /// <summary>t ∈ (0, 1): 0.001 … 0.999.</summary>
    public static Gen<double> OpenTime => Gen.Choose(1, 999).Select(i => i / 1000.0);

    /// <summary>t ∈ (0, 1]: 0.001 … 1.</summary>
    public static Gen<double> PositiveTime => Gen.Choose(1, 1000).Select(i => i / 1000.0);

    /// <summary>0 ≤ s &lt; t ≤ 1 by construction.</summary>
    public static Gen<(double S, double T)> OrderedPair =>
        from t in Gen.Choose(1, 1000)
        from s in Gen.Choose(0, t - 1)
        select (s / 1000.0, t / 1000.0);

    /// <summary>0 ≤ s &lt; u &lt; t ≤ 1 by construction.</summary>
    public static Gen<(double S, double U, double T)> OrderedTriple =>
        from t in Gen.Choose(2, 1000)
        from u in Gen.Choose(1, t - 1)
        from s in Gen.Choose(0, u - 1)
        select (s / 1000.0, u / 1000.0, t / 1000.0);

    /// <summary>A seed for a torch.Generator.</summary>
    public static Gen<int> Seed => Gen.Choose(0, int.MaxValue);

    /// <summary>Three independent generators as a tuple.</summary>
    public static Gen<(A, B, C)> Zip<A, B, C>(Gen<A> a, Gen<B> b, Gen<C> c) =>
        from x in a from y in b from z in c select (x, y, z);

    /// <summary>Four independent generators as a tuple.</summary>
    public static Gen<(A, B, C, D)> Zip<A, B, C, D>(Gen<A> a, Gen<B> b, Gen<C> c, Gen<D> d) =>
        from x in a from y in b from z in c from w in d select (x, y, z, w);
}
