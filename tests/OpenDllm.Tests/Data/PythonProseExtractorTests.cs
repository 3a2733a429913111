using OpenDllm.Data;

namespace OpenDllm.Tests.Data;

/// <summary>Docstrings and comment blocks found in small Python sources written here (<see cref="PythonProseExtractor"/>).</summary>
public sealed class PythonProseExtractorTests
{
    static List<(int Line, string Text)> Docstrings(string source) =>
        PythonProseExtractor.Extract(source, includeComments: false).Select(p => (p.Line, p.Text)).ToList();

    [Fact]
    public void FindsModuleClassFunctionAndNestedDocstrings()
    {
        var source = """"
            #!/usr/bin/env python3
            '''The module.'''
            import os

            class Outer(Base, metaclass=Meta):
                "The class."

                def method(self, a,
                           b=(1, 2)) -> dict[str, int]:
                    '''The method.'''
                    def inner():
                        """The nested function."""
                        return 1
                    return inner

            @decorator(key=lambda x: x)
            async def fetch():
                """The coroutine."""

            def inline(): "Inline body."
            """";
        Assert.Equal(
        [
            (2, "The module."), (6, "The class."), (10, "The method."), (12, "The nested function."),
            (18, "The coroutine."), (20, "Inline body."),
        ], Docstrings(source));
    }

    [Fact]
    public void StringsThatAreNotTheFirstStatementAreNotDocstrings()
    {
        var source = """
            import sys
            "Not a module docstring: the second statement."
            TEXT = '''An assigned string is not a docstring.'''

            def f():
                x = "assigned, not a docstring"
                "second statement, not a docstring"

            def g():
                if x:
                    "first statement of an if body"
                return '''returned'''

            def h(): return "a returned string"
            call("argument", '''more''')
            """;
        Assert.Empty(Docstrings(source));
    }

    [Fact]
    public void PrefixesQuotesAndEscapesFollowPython()
    {
        var source = "def a():\n    r\"\"\"Raw \\n stays.\"\"\"\n" +
                     "def b():\n    u'Unicode prefix, single quotes.'\n" +
                     "def c():\n    b\"\"\"Bytes are not docstrings.\"\"\"\n" +
                     "def d():\n    f\"\"\"F-strings are not docstrings.\"\"\"\n" +
                     "def e():\n    \"Escapes: \\x41\\u00e9 tab\\tquote\\\" end\"\n" +
                     "def g():\n    '''It's \"quoted\" # not a comment'''\n" +
                     "def h():\n    \"Adjacent \" 'literals join.'\n" +
                     "def k():\n    R'Upper-case raw prefix \\d.'; x = 1\n";
        // cleandoc expands the tab to the next multiple of 8 columns (one space here)
        Assert.Equal(
        [
            (2, "Raw \\n stays."), (4, "Unicode prefix, single quotes."), (10, "Escapes: Aé tab quote\" end"),
            (12, "It's \"quoted\" # not a comment"), (14, "Adjacent literals join."), (16, "Upper-case raw prefix \\d."),
        ], Docstrings(source));
    }

    [Fact]
    public void DocstringsAreDedentedLikeInspectCleandoc()
    {
        var source = "def f():\n    \"\"\"\n\n      First line after blanks.\n\n        Indented more.\n\tTabbed.\n      Last.\n\n    \"\"\"\n";
        // margin = 6 (the tab expands to 8 columns, blank lines do not count); the first line is empty and dropped
        Assert.Equal("First line after blanks.\n\n  Indented more.\n  Tabbed.\nLast.", Docstrings(source).Single().Text);
        Assert.Equal("Summary.\n\nBody\n  more.", PythonProseExtractor.CleanDoc("   Summary.\n\n    Body\n      more.\n    "));
    }

    [Fact]
    public void DoctestsAreRemovedWithTheirContinuationAndOutput()
    {
        var text = "Add numbers.\n\n>>> add(1,\n...     2)\n3\n>>> add(2, 2)\n4\n\nMore prose\n    >>> indented()\n    output\n    more output\n\nEnd.";
        Assert.Equal("Add numbers.\n\n\nMore prose\n\nEnd.", ProseText.RemoveDoctests(text));
        Assert.Equal("Add numbers.\n\nMore prose\n\nEnd.", ProseText.Tidy(ProseText.RemoveDoctests(text)));
    }

    [Fact]
    public void CommentLinesGroupIntoBlocksAndNonProseLinesAreLeftOut()
    {
        var source = """
            #!/usr/bin/env python3
            # -*- coding: utf-8 -*-
            # The first block starts here and
            # goes on over two lines.
            #
            #   An indented line stays indented.

            # A second block, after a blank line.
            import os  # a trailing comment is not prose
            # noqa: E501
            # Third block, after a pragma.
            # x = compute(y)
            # Fourth block, after commented-out code.
            ##########
            ## Fifth block: every leading hash goes.
            """;
        var blocks = PythonProseExtractor.Extract(source).Where(p => p.Kind == PythonProseKind.Comment).Select(p => (p.Line, p.Text)).ToList();
        Assert.Equal(
        [
            (3, "The first block starts here and\ngoes on over two lines.\n\n  An indented line stays indented."),
            (8, "A second block, after a blank line."), (11, "Third block, after a pragma."),
            (13, "Fourth block, after commented-out code."), (15, "Fifth block: every leading hash goes."),
        ], blocks);
        Assert.Empty(PythonProseExtractor.Extract(source, includeComments: false));
    }

    [Theory]
    [InlineData(1, "#!/usr/bin/python", true)]
    [InlineData(2, "# vim: set fileencoding=utf-8 :", true)]
    [InlineData(7, "# type: ignore", true)]
    [InlineData(7, "# pragma: no cover", true)]
    [InlineData(7, "# if not done:", true)]
    [InlineData(7, "# from os import path", true)]
    [InlineData(7, "# ---------", true)]
    [InlineData(7, "# If the call fails, retry once.", false)]
    [InlineData(7, "# XXX: this is slow (see issue 42)", false)]
    [InlineData(7, "#", false)]
    public void NonProseCommentLines(int line, string comment, bool expected) =>
        Assert.Equal(expected, PythonProseExtractor.IsNonProseComment(line, comment));

    [Fact]
    public void DocstringsAndCommentsComeInLineOrder()
    {
        var source = "# Header comment of this module, first.\n\"\"\"Module docstring, second.\"\"\"\n# A later comment, third.\ndef f():\n    \"Fourth.\"\n";
        Assert.Equal([1, 2, 3, 5], PythonProseExtractor.Extract(source).Select(p => p.Line));
        Assert.Equal([PythonProseKind.Comment, PythonProseKind.Docstring, PythonProseKind.Comment, PythonProseKind.Docstring],
                     PythonProseExtractor.Extract(source).Select(p => p.Kind));
    }

    [Fact]
    public void MalformedSourceDoesNotThrow()
    {
        Assert.Equal([(1, "Unterminated docstring\nto the end")], Docstrings("\"\"\"Unterminated docstring\nto the end"));
        Assert.Empty(Docstrings("def f(:\n    'x\n)))\n"));
        Assert.Empty(Docstrings(""));
    }
}
