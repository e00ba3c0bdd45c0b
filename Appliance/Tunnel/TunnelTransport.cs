using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using System.Threading.Channels;
using Appliance.Auth;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Http.Features;

namespace Appliance.Tunnel;

/// <summary>The Kestrel endpoint that stands for "connections arriving through the relay tunnel".</summary>
public sealed class TunnelEndPoint(string relay) : EndPoint
{
    public string Relay { get; } = relay;

    public override string ToString() => $"tunnel:{Relay}";
}

/// <summary>
/// What Kestrel knows about a tunnel connection: set as a connection feature, so every request on it is marked as
/// tunnelled (never loopback) and may carry the relay's forwarding headers and key.
/// </summary>
internal sealed class TunnelConnectionInfo(string relayKey, DateTimeOffset connectedAt) : ITunnelConnectionFeature
{
    /// <summary>The key the relay proves itself with on its own requests (bound to this session's nonce).</summary>
    public string RelayKey { get; } = relayKey;

    public DateTimeOffset ConnectedAt { get; } = connectedAt;
}

/// <summary>
/// A Kestrel transport whose connections are tunnel sessions instead of sockets: the tunnel client hands each
/// authenticated WebSocket stream to <see cref="ServeAsync"/>, and Kestrel serves HTTP/2 on it like on any socket.
/// </summary>
public sealed class TunnelConnectionListenerFactory : IConnectionListenerFactory, IConnectionListenerFactorySelector
{
    private readonly Channel<TunnelConnection> _pending = Channel.CreateBounded<TunnelConnection>(
        new BoundedChannelOptions(4) { FullMode = BoundedChannelFullMode.Wait });

    public bool CanBind(EndPoint endpoint) => endpoint is TunnelEndPoint;

    public ValueTask<IConnectionListener> BindAsync(EndPoint endpoint, CancellationToken cancellationToken = default) =>
        ValueTask.FromResult<IConnectionListener>(new Listener(endpoint, _pending.Reader));

    /// <summary>Lets Kestrel serve <paramref name="stream"/>; completes when Kestrel is done with it or the stream fails.</summary>
    internal async Task ServeAsync(Stream stream, TunnelConnectionInfo info, Action abort, CancellationToken cancellationToken)
    {
        var connection = new TunnelConnection(stream, info, abort);
        try
        {
            await _pending.Writer.WriteAsync(connection, cancellationToken);
        }
        catch (OperationCanceledException)
        {
            await connection.DisposeAsync();
            throw;
        }

        // Kestrel owns the connection now and disposes it when done; cancelling aborts it.
        using var registration = cancellationToken.Register(static c => ((TunnelConnection)c!).Abort(), connection);
        await connection.Closed;
    }

    private sealed class Listener(EndPoint endpoint, ChannelReader<TunnelConnection> pending) : IConnectionListener
    {
        private readonly CancellationTokenSource _unbound = new();

        public EndPoint EndPoint { get; } = endpoint;

        public async ValueTask<ConnectionContext?> AcceptAsync(CancellationToken cancellationToken = default)
        {
            using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _unbound.Token);
            try
            {
                return await pending.ReadAsync(linked.Token);
            }
            catch (Exception ex) when (ex is OperationCanceledException or ChannelClosedException)
            {
                return null; // Kestrel stops accepting.
            }
        }

        public ValueTask UnbindAsync(CancellationToken cancellationToken = default)
        {
            _unbound.Cancel();
            return ValueTask.CompletedTask;
        }

        public ValueTask DisposeAsync()
        {
            _unbound.Cancel();
            _unbound.Dispose();
            return ValueTask.CompletedTask;
        }
    }
}

/// <summary>One tunnel session as a Kestrel connection: the WebSocket stream as a duplex pipe.</summary>
internal sealed class TunnelConnection : ConnectionContext, IDuplexPipe
{
    /// <summary>Largest WebSocket message the output pump sends: each message costs a mask and a syscall.</summary>
    internal const int MaxMessageBytes = 256 * 1024;

    /// <summary>Output segments this size or larger are sent without copying; Kestrel fills them frame by frame.</summary>
    private const int OutputSegmentBytes = 64 * 1024;
    private const int GatherBelowBytes = 16 * 1024;

    private readonly Stream _stream;
    private readonly Action _abort;
    private readonly Pipe _outgoing = new(new PipeOptions(
        pauseWriterThreshold: 1024 * 1024, resumeWriterThreshold: 512 * 1024, minimumSegmentSize: OutputSegmentBytes,
        useSynchronizationContext: false));
    private readonly Task _pumping;
    private readonly CancellationTokenSource _closed = new();
    private readonly TaskCompletionSource _done = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _disposed;

    public TunnelConnection(Stream stream, TunnelConnectionInfo info, Action abort)
    {
        _stream = stream;
        _abort = abort;
        Input = PipeReader.Create(stream, new StreamPipeReaderOptions(bufferSize: 16 * 1024, leaveOpen: true));
        // Kestrel flushes its HTTP/2 frames (16 KiB at most each) as it writes them; the pump sends whatever piled up
        // during its last send in as few messages as the 64 KiB output segments allow, instead of one per 4 KiB.
        Output = _outgoing.Writer;
        _pumping = PumpOutputAsync();
        Features.Set<ITunnelConnectionFeature>(info);
        Features.Set(info);
        ConnectionClosed = _closed.Token;
        Transport = this;
    }

    public override string ConnectionId { get; set; } = "tunnel-" + Guid.NewGuid().ToString("N")[..12];

    public override IFeatureCollection Features { get; } = new FeatureCollection();

    public override IDictionary<object, object?> Items { get; set; } = new Dictionary<object, object?>();

    public override IDuplexPipe Transport { get; set; }

    public PipeReader Input { get; }

    public PipeWriter Output { get; }

    public Task Closed => _done.Task;

    public override void Abort(ConnectionAbortedException abortReason)
    {
        // Kestrel gave up on the connection (e.g. unanswered PING): abort the WebSocket at once; a polite close
        // handshake would wait on the very link that is dead.
        _abort();
        TrySignalClosed();
    }

    public override async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
        {
            await base.DisposeAsync();
            return;
        }

        await Input.CompleteAsync();
        await Output.CompleteAsync();
        await _pumping;
        await _stream.DisposeAsync();
        TrySignalClosed();
        _closed.Dispose();
        await base.DisposeAsync();
    }

    private async Task PumpOutputAsync()
    {
        await Task.Yield();
        var reader = _outgoing.Reader;
        byte[]? gather = null;
        try
        {
            while (true)
            {
                var result = await reader.ReadAsync();
                var buffer = result.Buffer;
                while (!buffer.IsEmpty)
                {
                    // Large segments go out as they are; runs of small ones are gathered into one message.
                    var first = buffer.First;
                    if (buffer.IsSingleSegment || first.Length >= GatherBelowBytes)
                    {
                        var message = first[..Math.Min(first.Length, MaxMessageBytes)];
                        await _stream.WriteAsync(message);
                        buffer = buffer.Slice(message.Length);
                    }
                    else
                    {
                        var message = buffer.Slice(0, Math.Min(buffer.Length, MaxMessageBytes));
                        gather ??= ArrayPool<byte>.Shared.Rent(MaxMessageBytes);
                        message.CopyTo(gather);
                        await _stream.WriteAsync(gather.AsMemory(0, (int)message.Length));
                        buffer = buffer.Slice(message.End);
                    }
                }

                reader.AdvanceTo(buffer.End);
                if (result.IsCompleted || result.IsCanceled)
                {
                    break;
                }
            }

            await reader.CompleteAsync();
        }
        catch (Exception ex)
        {
            // The link failed under a send: Kestrel's next write fails with this, and the session ends.
            await reader.CompleteAsync(ex);
            _abort();
            TrySignalClosed();
        }
        finally
        {
            if (gather is not null)
            {
                ArrayPool<byte>.Shared.Return(gather);
            }
        }
    }

    private void TrySignalClosed()
    {
        if (_done.TrySetResult())
        {
            try
            {
                _closed.Cancel();
            }
            catch (ObjectDisposedException)
            {
            }
        }
    }
}
