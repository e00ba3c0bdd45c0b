using System.Collections;
using System.Reflection;

namespace Tests.Shared;

/// <summary>
/// docs/configuration.md promises every key: this lists the keys an assembly's options classes (the types with a
/// <c>SectionName</c> constant) have and the page does not name.
/// </summary>
public static class ConfigurationDocs
{
    public static string PagePath =>
        Path.GetFullPath(Path.Combine(AppContext.BaseDirectory, "..", "..", "..", "..", "..", "docs", "configuration.md"));

    public static IReadOnlyList<string> MissingKeys(params Assembly[] assemblies)
    {
        var page = File.ReadAllText(PagePath);
        return [.. assemblies
            .SelectMany(a => a.GetTypes())
            .Select(t => (Type: t, Section: t.GetField("SectionName", BindingFlags.Public | BindingFlags.Static)?.GetRawConstantValue() as string))
            .Where(x => x.Section is not null)
            .SelectMany(x => SectionKeys(x.Type, x.Section!))
            .Distinct(StringComparer.Ordinal)
            .Where(key => !page.Contains($"`{key}", StringComparison.Ordinal))
            .Order(StringComparer.Ordinal)];
    }

    /// <summary>
    /// A section bound straight to a dictionary (<c>Sensors:NAME</c>: the options class's one property named like the
    /// section holds it) gives <c>Section:NAME:…</c>; any other section its properties.
    /// </summary>
    private static IEnumerable<string> SectionKeys(Type type, string section)
    {
        var properties = type.GetProperties(BindingFlags.Public | BindingFlags.Instance).Where(p => p.SetMethod?.IsPublic == true).ToArray();
        return properties.Length == 1 && properties[0].Name == section.Split(':')[^1] && DictionaryValue(properties[0].PropertyType) is { } entry
            ? Keys(entry, $"{section}:NAME", depth: 1)
            : Keys(type, section, depth: 0);
    }

    /// <summary>Every key a type binds: nested settings classes recurse, dictionaries by name give <c>NAME</c>.</summary>
    public static IEnumerable<string> Keys(Type type, string prefix, int depth)
    {
        foreach (var property in type.GetProperties(BindingFlags.Public | BindingFlags.Instance))
        {
            if (property.GetIndexParameters().Length > 0 || (property.SetMethod?.IsPublic != true && !IsBoundCollection(property.PropertyType)))
            {
                continue;
            }

            var key = $"{prefix}:{property.Name}";
            var valueType = property.PropertyType;
            if (depth < 4 && DictionaryValue(valueType) is { } entry)
            {
                foreach (var nested in IsSettingsClass(entry) ? Keys(entry, $"{key}:NAME", depth + 1) : [$"{key}:NAME"])
                {
                    yield return nested;
                }
            }
            else if (depth < 4 && IsSettingsClass(valueType))
            {
                foreach (var nested in Keys(valueType, key, depth + 1))
                {
                    yield return nested;
                }
            }
            else
            {
                yield return key;
            }
        }
    }

    private static bool IsBoundCollection(Type type) => DictionaryValue(type) is not null;

    private static Type? DictionaryValue(Type type) =>
        type.IsGenericType && type.GetGenericTypeDefinition() is var d
            && (d == typeof(Dictionary<,>) || d == typeof(IDictionary<,>) || d == typeof(IReadOnlyDictionary<,>))
            && type.GetGenericArguments()[0] == typeof(string)
            ? type.GetGenericArguments()[1]
            : null;

    private static bool IsSettingsClass(Type type) =>
        type.IsClass && type != typeof(string) && !typeof(IEnumerable).IsAssignableFrom(type) && type.Namespace?.StartsWith("System", StringComparison.Ordinal) != true;
}
