using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;

namespace Coordinated.Hosting;

/// <summary>
/// Parsers for command-line values, shared by the runtime flags, the apps and the tools, and the one-line report of a
/// bad command line. Every parser accepts only what its flag can use (finite numbers in range, non-empty text, names
/// of enum members) and otherwise adds an error that starts with the flag's name, so that a bad value is a parse error
/// (exit 64) and never an exception later.
/// </summary>
public static class OptionParsers
{
    /// <summary>A whole number in [<paramref name="min"/>, <paramref name="max"/>], with a message naming the option otherwise.</summary>
    public static long Count(ArgumentResult r, long min, long max = long.MaxValue)
    {
        string text = Text(r, out string name);
        if (!long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long value))
        {
            r.AddError(!IsDigits(text) ? $"{name}: '{text}' is not a whole number"
                : text.StartsWith('-') ? $"{name}: {text} is not allowed (must be >= {min})"
                : $"{name}: {text} is too large (at most {max})");
            return min;
        }

        if (value < min || value > max)
        {
            r.AddError(value < min
                ? $"{name}: {value} is not allowed (must be >= {min})"
                : $"{name}: {value} is too large (at most {max})");
            return min;
        }

        return value;
    }

    /// <summary><see cref="Count"/> for an <c>int</c>: at most <paramref name="max"/> (never wraps around).</summary>
    public static int Count32(ArgumentResult r, int min, int max = int.MaxValue) => (int)Count(r, min, max);

    /// <summary>A finite real number, &gt; 0 (or &gt;= 0 with <paramref name="allowZero"/>).</summary>
    public static double Real(ArgumentResult r, bool allowZero)
    {
        string text = Text(r, out string name);
        if (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double value) || !double.IsFinite(value))
        {
            r.AddError($"{name}: '{text}' is not a finite number");
            return 0;
        }

        return InRange(r, name, text, value, allowZero);
    }

    /// <summary>A duration in seconds (600, 90s, 15m, 2h, 1.5h), &gt; 0 (or &gt;= 0 with <paramref name="allowZero"/>).</summary>
    public static double Duration(ArgumentResult r, bool allowZero)
    {
        string text = Text(r, out string name);
        if (TryParseDuration(text) is not double seconds)
        {
            r.AddError($"{name}: '{text}' is not a duration (examples: 600, 90s, 15m, 2h)");
            return 0;
        }

        return InRange(r, name, text, seconds, allowZero);
    }

    /// <summary>Seconds for a finite duration such as 600, 600s, 15m, 2h or 1.5h; null if <paramref name="text"/> is not one.</summary>
    public static double? TryParseDuration(string text)
    {
        text = text.Trim();
        double unit = 1;
        if (text.Length > 1 && char.IsAsciiLetter(text[^1]))
        {
            unit = char.ToLowerInvariant(text[^1]) switch { 's' => 1, 'm' => 60, 'h' => 3600, 'd' => 86400, _ => double.NaN };
            text = text[..^1];
        }

        return !double.IsNaN(unit) && double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double value)
            && double.IsFinite(value) && double.IsFinite(value * unit)
            ? value * unit
            : null;
    }

    /// <summary>Non-empty text (a path, a name).</summary>
    public static string NonEmpty(ArgumentResult r)
    {
        string text = Text(r, out string name);
        if (string.IsNullOrWhiteSpace(text))
        {
            r.AddError($"{name}: an empty value is not allowed");
        }

        return text;
    }

    /// <summary>The name of a member of <typeparamref name="T"/>, case-insensitive; numbers are not names.</summary>
    public static T Name<T>(ArgumentResult r)
        where T : struct, Enum
    {
        string text = Text(r, out string name);
        string? match = Enum.GetNames<T>().FirstOrDefault(n => n.Equals(text.Trim(), StringComparison.OrdinalIgnoreCase));
        if (match is null)
        {
            r.AddError($"{name}: '{text}' is not one of {string.Join(", ", Enum.GetNames<T>().Select(n => n.ToLowerInvariant()))}");
            return default;
        }

        return Enum.Parse<T>(match);
    }

    /// <summary>
    /// The value of <paramref name="option"/> for a validator that looks at several options; false when the option
    /// was not given or its value was bad (its own error is reported already, and reading it would throw).
    /// </summary>
    public static bool TryGet<T>(CommandResult r, Option<T> option, out T value)
    {
        value = default!;
        if (r.GetResult(option) is not { Implicit: false } result)
        {
            return false;
        }

        try
        {
            value = result.GetValueOrDefault<T>();
            return true;
        }
        catch (InvalidOperationException)
        {
            return false; // the parser rejected the value; System.CommandLine throws its error when asked for the value
        }
    }

    /// <summary>
    /// The errors of a bad command line as one line for stderr: every error, the flag named first, and a pointer to
    /// <c>--help</c>. A value after a flag that takes none (<c>--quiet 5</c>) is reported against that flag.
    /// </summary>
    public static string OneLine(ParseResult parse, IReadOnlyList<string> args)
    {
        ArgumentNullException.ThrowIfNull(parse);
        var messages = new List<string>();
        foreach (ParseError error in parse.Errors)
        {
            string message = error.Message.ReplaceLineEndings(" ").Trim();
            foreach (string token in parse.UnmatchedTokens.Where(t => message.Contains($"'{t}'", StringComparison.Ordinal)))
            {
                if (SwitchBefore(parse, args, token) is { } flag)
                {
                    message = $"{flag.Name} takes no value (got '{token}')";
                }
            }

            if (!messages.Contains(message))
            {
                messages.Add(message);
            }
        }

        return $"error: {string.Join("; ", messages)} (add --help to see every option)";
    }

    /// <summary>The switch (a flag without a value) that <paramref name="token"/> follows in <paramref name="args"/>, if any.</summary>
    private static Option? SwitchBefore(ParseResult parse, IReadOnlyList<string> args, string token)
    {
        for (int i = 1; i < args.Count; i++)
        {
            if (args[i] == token && parse.CommandResult.Command.Options.FirstOrDefault(o => o.Name == args[i - 1] || o.Aliases.Contains(args[i - 1])) is { } flag
                && flag.ValueType == typeof(bool))
            {
                return flag;
            }
        }

        return null;
    }

    private static string Text(ArgumentResult r, out string name)
    {
        name = (r.Parent as OptionResult)?.Option.Name ?? "value";
        return r.Tokens.Count > 0 ? r.Tokens[0].Value : "";
    }

    private static bool IsDigits(string text) => text.TrimStart('-', '+').All(char.IsAsciiDigit) && text.TrimStart('-', '+').Length > 0;

    private static double InRange(ArgumentResult r, string name, string text, double value, bool allowZero)
    {
        if (value < 0 || (value == 0 && !allowZero))
        {
            r.AddError($"{name}: {text} is not allowed (must be {(allowZero ? ">= 0" : "> 0")})");
        }

        return value;
    }
}
