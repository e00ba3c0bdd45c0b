using BenchmarkDotNet.Running;

namespace Benchmarks;

/// <summary>BenchmarkDotNet benchmarks, on demand: <c>dotnet run -c Release --project tests/Benchmarks -- --filter '*'</c>.</summary>
public static class Program
{
    public static void Main(string[] args) => BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
}
