using Spectre.Console;

namespace OpenDllm.Cli.Commands;

/// <summary>
/// A Spectre console bound to whatever <see cref="Console.Out"/> is at the moment of the call. <c>AnsiConsole</c>'s static
/// console captures the writer the first time it is touched and keeps it for the life of the process, so a host that
/// redirects the console per command (a notebook cell, an in-process test, <c>recipes/*.cs</c>) would otherwise see
/// later tables written to a writer that is already closed. The shared console is used whenever it writes to the
/// current <see cref="Console.Out"/> (a real terminal, or a host that set <c>AnsiConsole.Console</c> itself).
/// </summary>
static class CliConsole
{
    public static IAnsiConsole Current()
    {
        var shared = AnsiConsole.Console;
        if (ReferenceEquals(shared.Profile.Out.Writer, Console.Out)) return shared;
        var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Out) });
        console.Profile.Width = shared.Profile.Width;
        return console;
    }
}
