namespace Appliance.WeCom.Crypto;

/// <summary>The error codes of WeCom's official callback samples (WXBizMsgCrypt), so logs match their docs.</summary>
public enum WeComCryptoError
{
    ValidateSignature = -40001,
    ParseXml = -40002,
    ComputeSignature = -40003,
    IllegalAesKey = -40004,
    ValidateCorpId = -40005,
    EncryptAes = -40006,
    DecryptAes = -40007,
    IllegalBuffer = -40008,
    EncodeBase64 = -40009,
    DecodeBase64 = -40010,
    GenReturnXml = -40011,
}

/// <summary>A callback could not be verified or decrypted; <see cref="Error"/> says which official check failed.</summary>
public sealed class WeComCryptoException : Exception
{
    public WeComCryptoException(WeComCryptoError error, string message)
        : base($"{message} ({(int)error} {error})") => Error = error;

    public WeComCryptoException()
    {
    }

    public WeComCryptoException(string message)
        : base(message)
    {
    }

    public WeComCryptoException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    public WeComCryptoError Error { get; }
}
