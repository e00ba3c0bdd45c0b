using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using Relay.Hosting;
using TunnelProtocol;

namespace Relay.Tunnel;

/// <summary>
/// One authenticated appliance connection. The relay is the HTTP/2 client (<see cref="SendAsync"/>): its only connection is
/// the WebSocket stream (handed over once by ConnectCallback), so every request to the appliance is an HTTP/2
/// stream on it, with PINGs both ways, per-stream flow control and cancellation.
/// </summary>
internal sealed class TunnelSession : IAsyncDisposable
{
    /// <summary>
    /// HTTP/2 receive window per stream: the most the relay holds of one answer for a visitor who reads slower than
    /// the appliance sends. .NET's client sends a WINDOW_UPDATE whenever an eighth of it is read, so 8 MiB means one
    /// per MiB carried (with 1 MiB, one per 128 KiB: each wakes both ends, which cost a fifth of the appliance's CPU
    /// on bulk answers); it also keeps a long, fast uplink full (e.g. 200 ms at 40 MB/s).
    /// </summary>
    internal const int StreamWindowBytes = 8 * 1024 * 1024;

    private static long _nextId;
    private readonly TaskCompletionSource _ended = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _opened = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly NotifyingStream _stream;
    private readonly SocketsHttpHandler _http2;
    private int _claimed;

    public TunnelSession(string name, string remote, Stream stream, byte[] nonce, string secret, RelayOptions options, TimeProvider time)
    {
        Name = name;
        Remote = remote;
        ConnectedAt = time.GetUtcNow();
        RelayKey = TunnelHandshake.RelayKey(secret, nonce);
        Counter = new CountingStream(stream);
        _stream = new NotifyingStream(Counter, () => _ended.TrySetResult());
        _http2 = new SocketsHttpHandler
        {
            ConnectCallback = async (_, cancellationToken) =>
            {
                // Requests may arrive as soon as the session is registered; HTTP/2 starts once the appliance was told.
                await _opened.Task.WaitAsync(cancellationToken);
                return Interlocked.Exchange(ref _claimed, 1) == 0 ? _stream : throw new IOException($"The tunnel to {name} has closed.");
            },
            KeepAlivePingDelay = options.PingInterval,
            KeepAlivePingTimeout = options.PingTimeout,
            KeepAlivePingPolicy = HttpKeepAlivePingPolicy.Always,
            PooledConnectionIdleTimeout = Timeout.InfiniteTimeSpan,
            PooledConnectionLifetime = Timeout.InfiniteTimeSpan,
            EnableMultipleHttp2Connections = false,

            // Fixed (see Relay.csproj): what the relay buffers per stream for a slow visitor is bounded by this.
            InitialHttp2StreamWindowSize = StreamWindowBytes,
            AllowAutoRedirect = false,
            UseCookies = false,
            UseProxy = false,
            AutomaticDecompression = DecompressionMethods.None,
            ConnectTimeout = TimeSpan.FromSeconds(10),
        };

        // Never disposed itself (a disposed invoker throws ObjectDisposedException): DisposeAsync closes the handler under it.
        Invoker = new HttpMessageInvoker(new OpenSessionHandler(this, _http2));
    }

    public long Id { get; } = Interlocked.Increment(ref _nextId);

    public string Name { get; }

    public string Remote { get; }

    public DateTimeOffset ConnectedAt { get; }

    /// <summary>The key the relay sends on its own requests (fan-out upstream, cached snapshots).</summary>
    public string RelayKey { get; }

    /// <summary>Bytes read = from the appliance (its uplink); written = to the appliance.</summary>
    public CountingStream Counter { get; }

    /// <summary>
    /// The HTTP/2 client over the tunnel, for YARP's forwarder and <see cref="SendAsync"/>. A session that has closed
    /// (replaced by a reconnect, or its tunnel dropped) fails like a dropped tunnel, with <see cref="HttpRequestException"/>,
    /// never <see cref="ObjectDisposedException"/>: callers take a session from the registry and may send on it just
    /// after it was closed.
    /// </summary>
    public HttpMessageInvoker Invoker { get; }

    /// <summary>Round trip of the last health probe over the tunnel, in milliseconds.</summary>
    public double? RoundTripMilliseconds { get; set; }

    public Task Ended => _ended.Task;

    public bool IsOpen => !_ended.Task.IsCompleted;

    /// <summary>
    /// Lets the HTTP/2 client use the stream, once the appliance has been sent its acceptance (which must be the
    /// first thing on the stream after the handshake). Requests made before wait for it.
    /// </summary>
    public void Open() => _opened.TrySetResult();

    /// <summary>
    /// A request for the appliance. <paramref name="pathAndQuery"/> goes out as given (no unescaping of %41, no
    /// removal of dot segments, no '\\' to '/'), so a visitor's path reaches the appliance as they sent it; it must
    /// be visible ASCII without '#'.
    /// </summary>
    public static HttpRequestMessage NewRequest(HttpMethod method, string pathAndQuery) =>
        new(method, TargetUri(pathAndQuery))
        {
            Version = HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
        };

    /// <summary>The address of <paramref name="pathAndQuery"/> on the appliance, kept as given (see <see cref="NewRequest"/>).</summary>
    public static Uri TargetUri(string pathAndQuery) =>
        new("http://appliance" + pathAndQuery, new UriCreationOptions { DangerousDisablePathAndQueryCanonicalization = true });

    /// <summary>Sends a request over the tunnel (see <see cref="Invoker"/>).</summary>
    public Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken) =>
        Invoker.SendAsync(request, cancellationToken);

    /// <summary>Sends a small GET over the tunnel (opens the HTTP/2 connection on first use) and records its round trip.</summary>
    public async Task ProbeAsync(CancellationToken cancellationToken)
    {
        using var request = NewRequest(HttpMethod.Get, "/healthz");
        var started = Stopwatch.GetTimestamp();
        using var response = await SendAsync(request, cancellationToken);
        await response.Content.LoadIntoBufferAsync(cancellationToken);
        RoundTripMilliseconds = Math.Round(Stopwatch.GetElapsedTime(started).TotalMilliseconds, 2);
    }

    public async ValueTask DisposeAsync()
    {
        _opened.TrySetException(new IOException($"The tunnel to {Name} has closed."));
        _ended.TrySetResult();
        _http2.Dispose();
        await _stream.DisposeAsync();
    }

    private HttpRequestException Closed(Exception? inner) =>
        new(HttpRequestError.ConnectionError, $"The tunnel to {Name} has closed.", inner);

    /// <summary>Fails requests on a closed session as a dropped tunnel does (see <see cref="Invoker"/>).</summary>
    private sealed class OpenSessionHandler(TunnelSession session, HttpMessageHandler inner) : DelegatingHandler(inner)
    {
        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            if (!session.IsOpen)
            {
                throw session.Closed(null);
            }

            try
            {
                return await base.SendAsync(request, cancellationToken);
            }
            catch (ObjectDisposedException ex)
            {
                throw session.Closed(ex);
            }
        }
    }

    /// <summary>Tells the session when the HTTP client drops its connection (ping timeout, the appliance closed).</summary>
    private sealed class NotifyingStream(Stream inner, Action disposed) : Stream
    {
        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override void Flush() => inner.Flush();

        public override Task FlushAsync(CancellationToken cancellationToken) => inner.FlushAsync(cancellationToken);

        public override int Read(byte[] buffer, int offset, int count) => inner.Read(buffer, offset, count);

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
            inner.ReadAsync(buffer, cancellationToken);

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            inner.ReadAsync(buffer, offset, count, cancellationToken);

        public override void Write(byte[] buffer, int offset, int count) => inner.Write(buffer, offset, count);

        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default) =>
            inner.WriteAsync(buffer, cancellationToken);

        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            inner.WriteAsync(buffer, offset, count, cancellationToken);

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                disposed();
                inner.Dispose();
            }

            base.Dispose(disposing);
        }

        public override async ValueTask DisposeAsync()
        {
            disposed();
            await inner.DisposeAsync();
            await base.DisposeAsync();
        }
    }
}

/// <summary>The live session of each appliance. A new session replaces the old one at once.</summary>
internal sealed class TunnelRegistry
{
    private readonly ConcurrentDictionary<string, TunnelSession> _sessions = new(StringComparer.Ordinal);

    /// <summary>Raised (off the caller's thread) when an appliance's session comes up.</summary>
    public event Action<string>? Connected;

    public TunnelSession? Get(string name) => _sessions.TryGetValue(name, out var s) && s.IsOpen ? s : null;

    public IReadOnlyCollection<TunnelSession> All => [.. _sessions.Values];

    /// <summary>Makes <paramref name="session"/> current; returns the one it replaced (the caller closes it).</summary>
    public TunnelSession? Register(TunnelSession session)
    {
        TunnelSession? previous = null;
        _sessions.AddOrUpdate(session.Name, session, (_, old) =>
        {
            previous = old;
            return session;
        });
        var handler = Connected;
        if (handler is not null)
        {
            _ = Task.Run(() => handler(session.Name));
        }

        return previous;
    }

    public void Remove(TunnelSession session) =>
        _sessions.TryRemove(new KeyValuePair<string, TunnelSession>(session.Name, session));
}
