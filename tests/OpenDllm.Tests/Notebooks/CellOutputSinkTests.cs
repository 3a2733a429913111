using OpenDllm.Interactive.Notebooks;

namespace OpenDllm.Tests.Notebooks;

/// <summary>Console output of a cell: merged per stream, capped per cell and per notebook with a note, never split mid-character.</summary>
public sealed class CellOutputSinkTests
{
    [Fact]
    public void ConsecutiveWritesToOneStreamMergeAndOthersStartANewOutput()
    {
        var sink = new CellOutputSink();
        sink.AppendStream("stdout", "a");
        sink.AppendStream("stdout", "b\n");
        sink.AppendStream("stderr", "e\n");
        sink.Add(new CellOutput { OutputType = OutputType.DisplayData });
        sink.AppendStream("stdout", "c");
        var outputs = sink.Close();
        Assert.Equal(["ab\n", "e\n", null, "c"], outputs.Select(o => o.Text));
        sink.AppendStream("stdout", "late");
        Assert.Equal("c", outputs[^1].Text);   // writes after Close are dropped
    }

    [Fact]
    public void TextPastTheCellCapIsDroppedWithANoteOnItsOwnLine()
    {
        var sink = new CellOutputSink(new OutputBudget(maxCellBytes: 10, maxNotebookBytes: 1000));
        sink.AppendStream("stdout", "12345");
        sink.AppendStream("stdout", "é€é€");          // 2+3+2+3 bytes: only "é€" fits in the 5 left; no character is split
        sink.AppendStream("stderr", "more");
        var text = Assert.Single(sink.Close()).Text;
        Assert.Equal("12345é€\n[output truncated after 10 bytes (the per-cell output cap)]\n", text);
    }

    [Fact]
    public void TheNotebookCapCarriesOverCells()
    {
        var budget = new OutputBudget(maxCellBytes: 1 << 20, maxNotebookBytes: 6);
        var first = new CellOutputSink(budget);
        first.AppendStream("stdout", "abcd\n");
        var second = new CellOutputSink(budget);
        second.AppendStream("stdout", "efgh\n");
        var third = new CellOutputSink(budget);
        third.AppendStream("stderr", "x");

        Assert.Equal("abcd\n", Assert.Single(first.Close()).Text);
        Assert.Equal("e\n[output truncated: the notebook's output reached 6 bytes (the per-notebook output cap)]\n", Assert.Single(second.Close()).Text);
        Assert.StartsWith("[output truncated: the notebook's output reached 6 bytes", Assert.Single(third.Close()).Text);
    }

    [Theory]
    [InlineData(8L << 20, "8 MiB")]
    [InlineData(1536L << 10, "1.5 MiB")]
    [InlineData(64L << 10, "64 KiB")]
    [InlineData(1000, "1000 bytes")]
    public void SizesReadAsPeopleWriteThem(long bytes, string text) => Assert.Equal(text, OutputBudget.Size(bytes));
}
