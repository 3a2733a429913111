using OpenDllm.Schedules;

namespace OpenDllm.Tests.Schedules;

public class MaskSchedulesFactoryTests
{
    public static TheoryData<string> Names => [.. MaskSchedules.Names];

    [Theory, MemberData(nameof(Names))]
    public void CreateReturnsTheNamedSchedule(string name)
    {
        Assert.Equal(name, MaskSchedules.Create(name).Name);
        Assert.Equal(name, MaskSchedules.Create(" " + name.ToUpperInvariant() + " ").Name);
    }

    [Fact]
    public void UnknownNameErrorListsEveryValidName()
    {
        var error = Assert.Throws<ArgumentException>(() => MaskSchedules.Create("cosin"));
        Assert.Contains("'cosin'", error.Message);
        foreach (var name in MaskSchedules.Names) Assert.Contains(name, error.Message);
    }

    [Fact]
    public void NamesAreDistinctAndAllCreatesOnePerName()
    {
        Assert.Equal(MaskSchedules.Names.Count, MaskSchedules.Names.Distinct().Count());
        Assert.Equal(MaskSchedules.Names, MaskSchedules.All.Select(s => s.Name));
    }
}
