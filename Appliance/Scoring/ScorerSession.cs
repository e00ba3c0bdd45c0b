using System.Buffers;
using System.Buffers.Binary;
using System.Net.WebSockets;
using System.Text;

namespace Appliance.Scoring;

/// <summary>The scorer could not be used (refused, closed early, malformed answer); the client gets status -100.</summary>
public sealed class ScorerException(string message) : Exception(message)
{
    public ScorerException()
        : this("scorer failed")
    {
    }

    public ScorerException(string message, Exception innerException)
        : this(message + ": " + innerException?.Message)
    {
    }
}

/// <summary>
/// One rating on the scorer's WebSocket: connects when the first audio is ready (so empty or refused audio never
/// reaches the scorer), sends <c>uint32 BE length ‖ Base64 meta</c>, the audio messages and <c>EOS</c>, and reads
/// the one answer <c>uint32 BE length ‖ JSON</c>. The answer is watched from the start: a scorer that refuses
/// early (auth, balance) ends the upload at once.
/// </summary>
internal sealed class ScorerSession : IAsyncDisposable
{
    /// <summary>Largest answer accepted; real reports with word details are a few KB.</summary>
    public const int MaxAnswerBytes = 1024 * 1024;

    private static readonly byte[] EndOfStream = "EOS"u8.ToArray();

    private readonly Uri _scorer;
    private readonly string _metaBase64;
    private readonly CancellationToken _cancellationToken;
    private ClientWebSocket? _socket;
    private Task<byte[]>? _answer;

    public ScorerSession(Uri scorer, string metaBase64, CancellationToken cancellationToken)
    {
        _scorer = scorer;
        _metaBase64 = metaBase64;
        _cancellationToken = cancellationToken;
    }

    public bool Connected => _socket is not null;

    /// <summary>The scorer already answered (before EOS): stop sending and use <see cref="FinishAsync"/>.</summary>
    public bool HasAnswered => _answer is { IsCompleted: true };

    /// <summary>Sends one binary message of audio, connecting first if needed.</summary>
    public async ValueTask SendAsync(ReadOnlyMemory<byte> message)
    {
        if (_socket is null)
        {
            await ConnectAsync();
        }

        if (HasAnswered)
        {
            return;
        }

        try
        {
            await _socket!.SendAsync(message, WebSocketMessageType.Binary, endOfMessage: true, _cancellationToken);
        }
        catch (WebSocketException) when (_answer is not null)
        {
            // The scorer closed while we sent; its answer (if any) explains why. FinishAsync reports it.
            await Task.WhenAny(_answer, Task.Delay(TimeSpan.FromSeconds(1), _cancellationToken));
            if (!HasAnswered)
            {
                throw;
            }
        }
    }

    /// <summary>Sends EOS (unless the scorer already answered) and returns the answer's JSON bytes, verbatim.</summary>
    public async Task<byte[]> FinishAsync()
    {
        if (_socket is null || _answer is null)
        {
            throw new InvalidOperationException("no audio was sent");
        }

        if (!HasAnswered)
        {
            try
            {
                await _socket.SendAsync(EndOfStream, WebSocketMessageType.Binary, endOfMessage: true, _cancellationToken);
            }
            catch (WebSocketException)
            {
                // Closed after the last audio frame: the answer (or its absence) decides.
            }
        }

        return await _answer.WaitAsync(_cancellationToken);
    }

    private async Task ConnectAsync()
    {
        var socket = new ClientWebSocket();
        socket.Options.SetRequestHeader("X-from-WeChat", "1");
        socket.Options.KeepAliveInterval = TimeSpan.Zero;
        _socket = socket;
        try
        {
            await socket.ConnectAsync(_scorer, _cancellationToken);
        }
        catch (WebSocketException ex)
        {
            throw new ScorerException($"cannot connect to the scorer ({ex.Message})");
        }

        var length = Encoding.ASCII.GetByteCount(_metaBase64);
        var frame = ArrayPool<byte>.Shared.Rent(4 + length);
        try
        {
            BinaryPrimitives.WriteUInt32BigEndian(frame, (uint)length);
            Encoding.ASCII.GetBytes(_metaBase64, frame.AsSpan(4));
            _answer = ReceiveAnswerAsync(socket);
            await socket.SendAsync(frame.AsMemory(0, 4 + length), WebSocketMessageType.Binary, endOfMessage: true, _cancellationToken);
        }
        catch (WebSocketException) when (_answer is not null)
        {
            // Refused right after connecting; FinishAsync returns the answer or reports the close.
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(frame);
        }
    }

    private async Task<byte[]> ReceiveAnswerAsync(ClientWebSocket socket)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(8 * 1024);
        var count = 0;
        try
        {
            while (true)
            {
                if (count == buffer.Length)
                {
                    if (buffer.Length >= MaxAnswerBytes)
                    {
                        throw new ScorerException($"the scorer's answer is larger than {MaxAnswerBytes} bytes");
                    }

                    var larger = ArrayPool<byte>.Shared.Rent(buffer.Length * 2);
                    buffer.AsSpan(0, count).CopyTo(larger);
                    ArrayPool<byte>.Shared.Return(buffer);
                    buffer = larger;
                }

                ValueWebSocketReceiveResult result;
                try
                {
                    result = await socket.ReceiveAsync(buffer.AsMemory(count), _cancellationToken);
                }
                catch (WebSocketException ex)
                {
                    throw new ScorerException($"the scorer closed the connection without an answer ({ex.WebSocketErrorCode})");
                }

                if (result.MessageType == WebSocketMessageType.Close)
                {
                    throw new ScorerException($"the scorer closed the connection without an answer ({socket.CloseStatus} {socket.CloseStatusDescription})");
                }

                count += result.Count;
                if (result.EndOfMessage)
                {
                    break;
                }
            }

            if (count < 4)
            {
                throw new ScorerException($"the scorer's answer is {count} bytes, shorter than its length prefix");
            }

            var length = BinaryPrimitives.ReadUInt32BigEndian(buffer);
            if (length == 0 || length > count - 4)
            {
                throw new ScorerException($"the scorer's answer announces {length} bytes but carries {count - 4}");
            }

            return buffer.AsSpan(4, (int)length).ToArray();
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_socket is null)
        {
            return;
        }

        if (_socket.State == WebSocketState.Open && _answer is { IsCompletedSuccessfully: true })
        {
            try
            {
                // A polite close, briefly: the answer is in hand either way.
                using var close = new CancellationTokenSource(TimeSpan.FromMilliseconds(500));
                await _socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, null, close.Token);
            }
            catch (Exception ex) when (ex is WebSocketException or OperationCanceledException or ObjectDisposedException)
            {
            }
        }
        else
        {
            _socket.Abort();
        }

        if (_answer is not null)
        {
            try
            {
                await _answer.WaitAsync(TimeSpan.FromSeconds(1));
            }
            catch (Exception ex) when (ex is ScorerException or OperationCanceledException or WebSocketException or TimeoutException or ObjectDisposedException)
            {
            }
        }

        _socket.Dispose();
    }
}
