// Carnet — the patient's own check of their access history (docs/WEB.md,
// docs/AUDIT.md). Everything is checked here, in the browser, with
// WebCrypto only: the log key, the signed checkpoint (Ed25519), its
// consistency with the one remembered from the last visit, and each line's
// RFC 6962 inclusion proof. The page says "vérifié" only when all passed.
'use strict';
(function () {
  var section = document.getElementById('verification');
  if (!section) { return; }
  var stateEl = document.getElementById('verif-etat');
  var detailEl = document.getElementById('verif-detail');
  var rows = Array.prototype.slice.call(document.querySelectorAll('#historique tbody tr[data-index]'));
  var enc = new TextEncoder();
  var STORE = 'carnet-journal-v1';

  function Fail(msg) { this.message = msg; }

  function fromB64(s) {
    var bin = atob(s);
    var out = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) { out[i] = bin.charCodeAt(i); }
    return out;
  }
  function fromHex(s) {
    if (!/^([0-9a-f]{2})*$/.test(s)) { throw new Fail('empreinte mal formée'); }
    var out = new Uint8Array(s.length / 2);
    for (var i = 0; i < out.length; i++) { out[i] = parseInt(s.substr(2 * i, 2), 16); }
    return out;
  }
  function concat() {
    var n = 0, i;
    for (i = 0; i < arguments.length; i++) { n += arguments[i].length; }
    var out = new Uint8Array(n), off = 0;
    for (i = 0; i < arguments.length; i++) { out.set(arguments[i], off); off += arguments[i].length; }
    return out;
  }
  function same(a, b) {
    if (a.length !== b.length) { return false; }
    var d = 0;
    for (var i = 0; i < a.length; i++) { d |= a[i] ^ b[i]; }
    return d === 0;
  }
  function half(n) { return Math.floor(n / 2); }
  function odd(n) { return n % 2 === 1; }

  function sha256(data) {
    return crypto.subtle.digest('SHA-256', data).then(function (b) { return new Uint8Array(b); });
  }
  function hashLeaf(leaf) { return sha256(concat(Uint8Array.of(0), leaf)); }
  function hashChildren(l, r) { return sha256(concat(Uint8Array.of(1), l, r)); }

  function get(url) {
    return fetch(url, { cache: 'no-store', credentials: 'same-origin' }).then(function (r) {
      if (!r.ok) { throw new Fail('le serveur n\'a pas fourni ' + url.split('?')[0] + ' (' + r.status + ')'); }
      return r;
    });
  }
  function getText(url) { return get(url).then(function (r) { return r.text(); }); }
  function getProof(url) {
    return get(url).then(function (r) { return r.json(); }).then(function (p) {
      if (!p || !Array.isArray(p.hashes)) { throw new Fail('preuve mal formée'); }
      return p.hashes.map(function (h) {
        var b = fromB64(h);
        if (b.length !== 32) { throw new Fail('preuve mal formée'); }
        return b;
      });
    });
  }

  // The log's verifier key, note format: name+hash+base64(0x01 || key).
  async function openKey(text) {
    var k = text.trim();
    // The key's base64 may hold "+": the name never does, the hash is 8 hex.
    var m = /^([^+\s]+)\+([0-9a-f]{8})\+([A-Za-z0-9+\/]+=*)$/.exec(k);
    if (!m) { throw new Fail('clé du journal mal formée'); }
    var parts = [m[1], m[2], m[3]];
    var raw = fromB64(parts[2]);
    if (raw.length !== 33 || raw[0] !== 1) { throw new Fail('clé du journal : algorithme inconnu'); }
    var h = await sha256(concat(enc.encode(parts[0] + '\n'), raw));
    var want = fromHex(parts[1]);
    if (!same(h.slice(0, 4), want)) { throw new Fail('clé du journal incohérente'); }
    var pub;
    try {
      pub = await crypto.subtle.importKey('raw', raw.slice(1), { name: 'Ed25519' }, false, ['verify']);
    } catch (e) {
      throw new Fail('votre navigateur ne sait pas vérifier les signatures Ed25519');
    }
    return { text: k, name: parts[0], hash: want, pub: pub };
  }

  // A checkpoint: a signed note whose text is origin, size, root.
  async function openCheckpoint(note, key) {
    var cut = note.lastIndexOf('\n\n');
    if (cut < 0) { throw new Fail('point de contrôle mal formé'); }
    var text = note.slice(0, cut + 1);
    var sigs = note.slice(cut + 2).split('\n').filter(function (l) { return l !== ''; });
    var signed = false;
    for (var i = 0; i < sigs.length && !signed; i++) {
      var m = /^\u2014 (\S+) (\S+)$/.exec(sigs[i]);
      if (!m || m[1] !== key.name) { continue; }
      var b = fromB64(m[2]);
      if (b.length !== 68 || !same(b.slice(0, 4), key.hash)) { continue; }
      signed = await crypto.subtle.verify({ name: 'Ed25519' }, key.pub, b.slice(4), enc.encode(text));
    }
    if (!signed) { throw new Fail('la signature du point de contrôle du journal est invalide'); }
    var lines = text.split('\n');
    if (lines.length !== 4 || lines[3] !== '' || lines[0] !== key.name || !/^(0|[1-9][0-9]{0,15})$/.test(lines[1])) {
      throw new Fail('point de contrôle mal formé');
    }
    var root = fromB64(lines[2]);
    if (root.length !== 32) { throw new Fail('point de contrôle mal formé'); }
    return { size: Number(lines[1]), root: root, rootText: lines[2] };
  }

  // RFC 9162 §2.1.3.2.
  async function verifyInclusion(index, size, leafHash, proof, root) {
    if (index >= size) { return false; }
    var fn = index, sn = size - 1, r = leafHash;
    for (var i = 0; i < proof.length; i++) {
      var p = proof[i];
      if (sn === 0) { return false; }
      if (odd(fn) || fn === sn) {
        r = await hashChildren(p, r);
        if (!odd(fn)) {
          while (!odd(fn) && fn !== 0) { fn = half(fn); sn = half(sn); }
        }
      } else {
        r = await hashChildren(r, p);
      }
      fn = half(fn); sn = half(sn);
    }
    return sn === 0 && same(r, root);
  }

  // RFC 9162 §2.1.4.2.
  async function verifyConsistency(first, second, firstRoot, secondRoot, proof) {
    if (first === second) { return proof.length === 0 && same(firstRoot, secondRoot); }
    if (first === 0 || first > second || proof.length === 0) { return false; }
    var path = proof.slice();
    if ((first & (first - 1)) === 0 && first < 2147483648) { path.unshift(firstRoot); }
    var fn = first - 1, sn = second - 1;
    while (odd(fn)) { fn = half(fn); sn = half(sn); }
    var fr = path[0], sr = path[0];
    for (var i = 1; i < path.length; i++) {
      var c = path[i];
      if (sn === 0) { return false; }
      if (odd(fn) || fn === sn) {
        fr = await hashChildren(c, fr);
        sr = await hashChildren(c, sr);
        if (!odd(fn)) {
          while (!odd(fn) && fn !== 0) { fn = half(fn); sn = half(sn); }
        }
      } else {
        sr = await hashChildren(sr, c);
      }
      fn = half(fn); sn = half(sn);
    }
    return sn === 0 && same(fr, firstRoot) && same(sr, secondRoot);
  }

  function markRow(row, ok, text) {
    var cell = row.querySelector('.etat-verif');
    if (!cell) { return; }
    cell.textContent = text;
    cell.className = 'etat-verif' + (ok === true ? ' ok' : ok === false ? ' ko' : '');
  }

  function show(state, text, detail) {
    section.setAttribute('data-state', state);
    stateEl.textContent = text;
    detailEl.textContent = detail || '';
  }

  function remembered() {
    try { return JSON.parse(localStorage.getItem(STORE) || 'null'); } catch (e) { return null; }
  }

  function sleep(ms) { return new Promise(function (res) { setTimeout(res, ms); }); }

  async function run() {
    var key = await openKey(await getText('/log/key'));
    var last = remembered();
    if (last && last.key !== key.text) {
      throw new Fail('la clé de signature du journal a changé depuis votre dernière vérification');
    }
    var maxIndex = -1;
    rows.forEach(function (row) { maxIndex = Math.max(maxIndex, Number(row.getAttribute('data-index'))); });
    var cp = await openCheckpoint(await getText('/log/checkpoint'), key);
    // Checkpoints are signed at most once a second: the newest lines may
    // need the next one.
    for (var attempt = 0; attempt < 3 && cp.size <= maxIndex; attempt++) {
      await sleep(1100);
      cp = await openCheckpoint(await getText('/log/checkpoint'), key);
    }
    var history;
    if (last && last.size > 0) {
      var oldRoot = fromB64(last.root);
      if (last.size > cp.size) {
        throw new Fail('le journal compte moins d\'entrées (' + cp.size + ') que lors de votre dernière vérification (' + last.size + ') : des lignes ont disparu');
      }
      var proof = last.size === cp.size ? [] : await getProof('/log/proof/consistency?from=' + last.size + '&to=' + cp.size);
      if (!await verifyConsistency(last.size, cp.size, oldRoot, cp.root, proof)) {
        throw new Fail('le journal présenté ne prolonge pas celui vérifié lors de votre dernière visite : l\'historique a pu être réécrit');
      }
      history = 'Le journal prolonge celui que ce navigateur a vérifié le ' + new Date(last.at).toLocaleString('fr-FR') + ' (' + last.size + ' entrées) : rien n\'y a été effacé ni réécrit depuis.';
    } else {
      history = 'Première vérification depuis ce navigateur : le journal signé est retenu pour contrôler qu\'il ne sera jamais réécrit lors de vos prochaines visites.';
    }
    var results = await Promise.all(rows.map(async function (row) {
      var idx = Number(row.getAttribute('data-index'));
      if (!(idx >= 0)) { markRow(row, false, '✗ non vérifié'); return 'bad'; }
      if (idx >= cp.size) { markRow(row, null, 'en attente'); return 'pending'; }
      var leaf = enc.encode('carnet-audit-v1\n' + row.getAttribute('data-id') + '\n' + row.getAttribute('data-time') + '\n' + row.getAttribute('data-digest') + '\n');
      try {
        var proof = await getProof('/log/proof/inclusion?index=' + idx + '&size=' + cp.size);
        if (await verifyInclusion(idx, cp.size, await hashLeaf(leaf), proof, cp.root)) {
          markRow(row, true, '✓ vérifié');
          return 'ok';
        }
      } catch (e) { /* counted below */ }
      markRow(row, false, '✗ non vérifié');
      return 'bad';
    }));
    var bad = results.filter(function (r) { return r === 'bad'; }).length;
    var ok = results.filter(function (r) { return r === 'ok'; }).length;
    var pending = results.length - bad - ok;
    if (bad > 0) {
      throw new Fail(bad + ' ligne' + (bad > 1 ? 's' : '') + ' de cet historique ne figure' + (bad > 1 ? 'nt' : '') + ' pas dans le journal signé');
    }
    localStorage.setItem(STORE, JSON.stringify({ key: key.text, size: cp.size, root: cp.rootText, at: new Date().toISOString() }));
    show('verifie', '✓ Vérifié : les ' + ok + ' accès affichés figurent dans le journal signé par le serveur (' + cp.size + ' entrées).' +
      (pending ? ' ' + pending + ' accès trop récent' + (pending > 1 ? 's' : '') + ' en attente du prochain point de contrôle.' : ''), history);
  }

  run().catch(function (e) {
    var why = e instanceof Fail ? e.message : 'la vérification a échoué (' + (e && e.message ? e.message : e) + ')';
    rows.forEach(function (row) {
      var cell = row.querySelector('.etat-verif');
      if (cell && !/vérifié/.test(cell.textContent)) { markRow(row, false, '✗ non vérifié'); }
    });
    show('non-verifie', '✗ Non vérifié : ' + why + '.', 'Ne vous fiez pas à cet historique tant que la vérification échoue ; signalez-le à l\'hébergeur de votre dossier.');
  });
}());
