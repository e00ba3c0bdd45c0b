// Independent oracle for the appliance's WeCom callback: the official @wecom/crypto package encrypts and signs a
// message like WeCom's servers do, posts it, then verifies and decrypts the passive reply.
//   node wecom-oracle.mjs post BASE_URL TOKEN AES_KEY CORP_ID USER CONTENT   → prints the reply as JSON
//   node wecom-oracle.mjs bench AES_KEY CORP_ID N                           → encrypt+decrypt operations per second
import { decrypt, encrypt, getSignature } from '@wecom/crypto';
import { randomBytes } from 'node:crypto';

const [mode, ...args] = process.argv.slice(2);

function field(xml, name) {
  const match = xml.match(new RegExp(`<${name}>(?:<!\\[CDATA\\[)?([\\s\\S]*?)(?:\\]\\]>)?</${name}>`));
  return match ? match[1] : undefined;
}

if (mode === 'post') {
  const [base, token, aesKey, corpId, user, content] = args;
  const now = Math.floor(Date.now() / 1000);
  const msgId = `${Date.now()}${Math.floor(Math.random() * 1000)}`;
  const plain = `<xml><ToUserName><![CDATA[${corpId}]]></ToUserName><FromUserName><![CDATA[${user}]]></FromUserName>` +
    `<CreateTime>${now}</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[${content}]]></Content>` +
    `<MsgId>${msgId}</MsgId><AgentID>1000002</AgentID></xml>`;
  const ciphertext = encrypt(aesKey, plain, corpId);
  const nonce = randomBytes(4).readUInt32BE(0).toString();
  const signature = getSignature(token, now, nonce, ciphertext);
  const body = `<xml><ToUserName><![CDATA[${corpId}]]></ToUserName><Encrypt><![CDATA[${ciphertext}]]></Encrypt><AgentID><![CDATA[1000002]]></AgentID></xml>`;
  const response = await fetch(`${base}/wecom/callback?msg_signature=${signature}&timestamp=${now}&nonce=${nonce}`, {
    method: 'POST', body, headers: { 'content-type': 'text/xml' },
  });
  const text = await response.text();
  const result = { status: response.status };
  if (text.length > 0) {
    const replyEncrypt = field(text, 'Encrypt');
    const expected = getSignature(token, field(text, 'TimeStamp'), field(text, 'Nonce'), replyEncrypt);
    result.signatureValid = expected === field(text, 'MsgSignature');
    const { message, id } = decrypt(aesKey, replyEncrypt);
    result.receiveId = id;
    result.toUser = field(message, 'ToUserName');
    result.msgType = field(message, 'MsgType');
    result.content = field(message, 'Content');
  }
  console.log(JSON.stringify(result));
} else if (mode === 'bench') {
  const [aesKey, corpId, n] = args;
  const count = Number(n);
  const plain = `<xml><ToUserName><![CDATA[${corpId}]]></ToUserName><FromUserName><![CDATA[alice]]></FromUserName><CreateTime>1700000000</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[help]]></Content><MsgId>1</MsgId><AgentID>1000002</AgentID></xml>`;
  const start = process.hrtime.bigint();
  for (let i = 0; i < count; i++) {
    const c = encrypt(aesKey, plain, corpId);
    if (decrypt(aesKey, c).message.length !== plain.length) throw new Error('round trip failed');
  }
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  console.log(JSON.stringify({ operations: count, seconds, perSecond: Math.round(count / seconds) }));
} else {
  console.error('usage: wecom-oracle.mjs post|bench …');
  process.exit(64);
}
