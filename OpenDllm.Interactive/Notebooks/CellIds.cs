using System.Text.RegularExpressions;

namespace OpenDllm.Interactive.Notebooks;

/// <summary>nbformat 4.5 cell ids: 1–64 characters of [A-Za-z0-9_-], unique within a notebook.</summary>
public static partial class CellIds
{
    [GeneratedRegex("^[A-Za-z0-9_-]{1,64}$")]
    private static partial Regex ValidId();

    public static bool IsValid(string? id) => id is not null && ValidId().IsMatch(id);

    /// <summary>Gives every cell without a valid, unique id a fresh one; valid ids already there are kept.</summary>
    public static void Fill(Notebook notebook)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var cell in notebook.Cells)
        {
            if (!IsValid(cell.Id) || !seen.Add(cell.Id!))
            {
                do cell.Id = NewId(); while (!seen.Add(cell.Id));
            }
        }
    }

    /// <summary>A new random id in the style Jupyter uses (8 hex digits).</summary>
    public static string NewId() => Guid.NewGuid().ToString("N")[..8];
}
