using System.Globalization;
using System.Text;

namespace OpenDllm.Interactive.Notebooks;

/// <summary>
/// The console-output caps of one run: at most <see cref="MaxCellBytes"/> bytes (UTF-8) of stdout+stderr per cell and
/// <see cref="MaxNotebookBytes"/> for the whole notebook. Text past a cap is dropped and the cell's output ends with a note
/// saying so, e.g. "[output truncated after 8 MiB (the per-cell output cap)]". Thread-safe.
/// </summary>
internal sealed class OutputBudget(long maxCellBytes, long maxNotebookBytes)
{
    readonly object _gate = new();
    long _notebookBytes;

    public long MaxCellBytes => maxCellBytes;
    public long MaxNotebookBytes => maxNotebookBytes;

    /// <summary>
    /// Takes up to <paramref name="bytes"/> for a cell that has already written <paramref name="cellBytes"/>; returns how
    /// many it may keep and, when that is fewer than asked, the note that ends the cell's output.
    /// </summary>
    public long Take(long cellBytes, long bytes, out string? note)
    {
        lock (_gate)
        {
            var allowed = Math.Min(bytes, Math.Min(maxCellBytes - cellBytes, maxNotebookBytes - _notebookBytes));
            allowed = Math.Max(0, allowed);
            _notebookBytes += allowed;
            note = allowed == bytes ? null
                : cellBytes + allowed >= maxCellBytes ? $"[output truncated after {Size(maxCellBytes)} (the per-cell output cap)]"
                : $"[output truncated: the notebook's output reached {Size(maxNotebookBytes)} (the per-notebook output cap)]";
            return allowed;
        }
    }

    /// <summary>"8 MiB", "512 KiB" or "100 bytes".</summary>
    public static string Size(long bytes) =>
        bytes % (1 << 20) == 0 ? $"{bytes >> 20} MiB"
        : bytes >= 1 << 20 ? (bytes / (double)(1 << 20)).ToString("0.##", CultureInfo.InvariantCulture) + " MiB"
        : bytes % 1024 == 0 ? $"{bytes >> 10} KiB"
        : $"{bytes} bytes";

    /// <summary>The longest prefix of <paramref name="text"/> that is at most <paramref name="maxBytes"/> in UTF-8 (whole characters).</summary>
    public static string Utf8Prefix(string text, long maxBytes)
    {
        long bytes = 0;
        int chars = 0;
        foreach (var rune in text.EnumerateRunes())
        {
            if (bytes + rune.Utf8SequenceLength > maxBytes) break;
            bytes += rune.Utf8SequenceLength;
            chars += rune.Utf16SequenceLength;
        }
        return text[..chars];
    }

    public static long Utf8Length(string text) => Encoding.UTF8.GetByteCount(text);
}
