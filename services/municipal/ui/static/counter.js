// The counter's only script: the IC card ceremonies (WebAuthn) of the login and
// enrolment forms, and a confirmation before any form marked data-confirm.
"use strict";

const b64u = {
  decode(s) {
    const pad = "=".repeat((4 - (s.length % 4)) % 4);
    const bin = atob(s.replace(/-/g, "+").replace(/_/g, "/") + pad);
    return Uint8Array.from(bin, (c) => c.charCodeAt(0));
  },
  encode(buf) {
    let bin = "";
    new Uint8Array(buf).forEach((b) => { bin += String.fromCharCode(b); });
    return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  },
};

async function post(url, body) {
  const r = await fetch(url, {
    method: "POST", credentials: "same-origin",
    headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
  });
  const data = await r.json().catch(() => ({}));
  if (!r.ok) { throw new Error(data.message || "処理できませんでした。"); }
  return data;
}

function credentialJson(c) {
  const out = { id: c.id, rawId: b64u.encode(c.rawId), type: c.type, clientExtensionResults: {},
                response: { clientDataJSON: b64u.encode(c.response.clientDataJSON) } };
  const r = c.response;
  if (r.attestationObject) {
    out.response.attestationObject = b64u.encode(r.attestationObject);
    out.response.transports = r.getTransports ? r.getTransports() : [];
  } else {
    out.response.authenticatorData = b64u.encode(r.authenticatorData);
    out.response.signature = b64u.encode(r.signature);
    if (r.userHandle) { out.response.userHandle = b64u.encode(r.userHandle); }
  }
  return out;
}

async function login(form) {
  const options = await post("/ui/login/options", {});
  const pk = options.publicKey;
  pk.challenge = b64u.decode(pk.challenge);
  (pk.allowCredentials || []).forEach((c) => { c.id = b64u.decode(c.id); });
  const credential = await navigator.credentials.get({ publicKey: pk });
  return post("/ui/login", {
    operator: form.operator.value, password: form.password.value,
    challenge_id: options.challenge_id, credential: credentialJson(credential),
  });
}

async function enrol(form) {
  const options = await post("/ui/enrol/options", { operator: form.operator.value });
  const pk = options.publicKey;
  pk.challenge = b64u.decode(pk.challenge);
  pk.user.id = b64u.decode(pk.user.id);
  (pk.excludeCredentials || []).forEach((c) => { c.id = b64u.decode(c.id); });
  const credential = await navigator.credentials.create({ publicKey: pk });
  return post("/ui/enrol", {
    operator: form.operator.value, password: form.password.value, code: form.code.value,
    challenge_id: options.challenge_id, credential: credentialJson(credential),
  });
}

document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("form[data-card]").forEach((form) => {
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const problem = form.querySelector("#card-problem");
      problem.hidden = true;
      try {
        const done = await (form.dataset.card === "login" ? login(form) : enrol(form));
        window.location.assign(done.next);
      } catch (error) {
        problem.textContent = error.name === "NotAllowedError"
          ? "ICカードの操作が取り消されたか、時間切れになりました。" : error.message;
        problem.hidden = false;
      }
    });
  });
  document.querySelectorAll("form[data-confirm]").forEach((form) => {
    form.addEventListener("submit", (event) => {
      if (!window.confirm(form.dataset.confirm)) { event.preventDefault(); }
    });
  });
});
