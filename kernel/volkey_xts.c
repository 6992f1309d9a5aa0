// SPDX-License-Identifier: GPL-2.0
/*
 * volkey_xts: a synchronous xts(aes) for dm-crypt.
 *
 * On x86 kernels before the change that made kernel-mode FPU usable in
 * softirqs, the AES-NI XTS code is registered only behind crypto/simd.c: the
 * xts(aes) that dm-crypt gets is asynchronous, and requests made where the FPU
 * cannot be used are queued to cryptd. This module registers an xts(aes) of
 * higher priority that always completes in the caller: each request goes to
 * the AES-NI implementation's internal algorithm when crypto_simd_usable(),
 * and to XTS over the kernel's fixed-time AES (aes-fixed-time, aes_ti.ko: one
 * 256-byte S-box, pulled whole into the cache before each block) otherwise.
 * Never to aes-generic: its 4 KiB lookup tables leak key bits through cache
 * timing to code sharing the CPU.
 *
 * It refuses to load where it has nothing to offer: a CPU without AES-NI, or
 * a kernel whose xts(aes) is synchronous already; and where it has no
 * fixed-time fallback.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/kmod.h>
#include <linux/module.h>
#include <linux/kernel.h>
#include <linux/err.h>
#include <crypto/aes.h>
#include <crypto/internal/simd.h>
#include <crypto/internal/skcipher.h>
#include <asm/cpufeature.h>
#include <asm/simd.h>

/* Above xts-aes-aesni (401), so new tfms of xts(aes) get this one. */
#define VOLKEY_XTS_PRIORITY 410

#define AESNI_XTS_DRIVER "__xts-aes-aesni"
/* Where the FPU cannot be used: never the table-based aes-generic. */
#define FALLBACK_XTS "xts(ecb(aes-fixed-time))"

struct volkey_xts_ctx {
	struct crypto_skcipher *simd;    /* the AES-NI code: only where the FPU may be used */
	struct crypto_skcipher *fallback; /* everywhere else: fixed-time AES */
};

static int volkey_xts_setkey(struct crypto_skcipher *tfm, const u8 *key, unsigned int keylen)
{
	struct volkey_xts_ctx *ctx = crypto_skcipher_ctx(tfm);
	u32 req_flags = crypto_skcipher_get_flags(tfm) & CRYPTO_TFM_REQ_MASK;
	int err;

	/* Both check the key as the kernel's XTS does (sizes, equal halves in FIPS mode). */
	crypto_skcipher_clear_flags(ctx->simd, CRYPTO_TFM_REQ_MASK);
	crypto_skcipher_set_flags(ctx->simd, req_flags);
	err = crypto_skcipher_setkey(ctx->simd, key, keylen);
	if (err)
		return err;
	crypto_skcipher_clear_flags(ctx->fallback, CRYPTO_TFM_REQ_MASK);
	crypto_skcipher_set_flags(ctx->fallback, req_flags);
	return crypto_skcipher_setkey(ctx->fallback, key, keylen);
}

static int volkey_xts_crypt(struct skcipher_request *req, bool encrypt)
{
	struct crypto_skcipher *tfm = crypto_skcipher_reqtfm(req);
	struct volkey_xts_ctx *ctx = crypto_skcipher_ctx(tfm);
	struct skcipher_request *sub = skcipher_request_ctx(req);

	/* Both children are synchronous: the request is done when this returns. */
	skcipher_request_set_tfm(sub, crypto_simd_usable() ? ctx->simd : ctx->fallback);
	skcipher_request_set_callback(sub, req->base.flags & ~CRYPTO_TFM_REQ_MAY_BACKLOG, NULL, NULL);
	skcipher_request_set_crypt(sub, req->src, req->dst, req->cryptlen, req->iv);
	return encrypt ? crypto_skcipher_encrypt(sub) : crypto_skcipher_decrypt(sub);
}

static int volkey_xts_encrypt(struct skcipher_request *req)
{
	return volkey_xts_crypt(req, true);
}

static int volkey_xts_decrypt(struct skcipher_request *req)
{
	return volkey_xts_crypt(req, false);
}

static int volkey_xts_init_tfm(struct crypto_skcipher *tfm)
{
	struct volkey_xts_ctx *ctx = crypto_skcipher_ctx(tfm);
	unsigned int reqsize;

	ctx->simd = crypto_alloc_skcipher(AESNI_XTS_DRIVER, CRYPTO_ALG_INTERNAL,
					  CRYPTO_ALG_INTERNAL | CRYPTO_ALG_ASYNC);
	if (IS_ERR(ctx->simd))
		return PTR_ERR(ctx->simd);
	ctx->fallback = crypto_alloc_skcipher(FALLBACK_XTS, 0, CRYPTO_ALG_ASYNC);
	if (IS_ERR(ctx->fallback)) {
		crypto_free_skcipher(ctx->simd);
		return PTR_ERR(ctx->fallback);
	}
	reqsize = max(crypto_skcipher_reqsize(ctx->simd), crypto_skcipher_reqsize(ctx->fallback));
	crypto_skcipher_set_reqsize(tfm, sizeof(struct skcipher_request) + reqsize);
	return 0;
}

static void volkey_xts_exit_tfm(struct crypto_skcipher *tfm)
{
	struct volkey_xts_ctx *ctx = crypto_skcipher_ctx(tfm);

	crypto_free_skcipher(ctx->fallback);
	crypto_free_skcipher(ctx->simd);
}

static struct skcipher_alg volkey_xts_alg = {
	.base = {
		.cra_name = "xts(aes)",
		.cra_driver_name = "xts-aes-volkey",
		.cra_priority = VOLKEY_XTS_PRIORITY,
		.cra_blocksize = AES_BLOCK_SIZE,
		.cra_ctxsize = sizeof(struct volkey_xts_ctx),
		.cra_module = THIS_MODULE,
	},
	.min_keysize = 2 * AES_MIN_KEY_SIZE,
	.max_keysize = 2 * AES_MAX_KEY_SIZE,
	.ivsize = AES_BLOCK_SIZE,
	.init = volkey_xts_init_tfm,
	.exit = volkey_xts_exit_tfm,
	.setkey = volkey_xts_setkey,
	.encrypt = volkey_xts_encrypt,
	.decrypt = volkey_xts_decrypt,
};

/* 0 when there is something to offer; -ENODEV with the reason logged otherwise. */
static int __init volkey_xts_useful(void)
{
	struct crypto_skcipher *tfm;
	const char *driver;
	bool async;

	if (!boot_cpu_has(X86_FEATURE_AES)) {
		pr_err("not loaded: this CPU has no AES-NI, so there is no fast XTS to make synchronous\n");
		return -ENODEV;
	}
	/* The best xts(aes) of this kernel, as dm-crypt would get it. */
	tfm = crypto_alloc_skcipher("xts(aes)", 0, 0);
	if (IS_ERR(tfm)) {
		pr_err("not loaded: this kernel has no xts(aes) (%ld)\n", PTR_ERR(tfm));
		return -ENODEV;
	}
	driver = crypto_tfm_alg_driver_name(crypto_skcipher_tfm(tfm));
	async = crypto_skcipher_alg(tfm)->base.cra_flags & CRYPTO_ALG_ASYNC;
	if (!async)
		pr_err("not loaded: this kernel's xts(aes) (%s) is synchronous already\n", driver);
	crypto_free_skcipher(tfm);
	if (!async)
		return -ENODEV;
	if (!crypto_has_skcipher(AESNI_XTS_DRIVER, CRYPTO_ALG_INTERNAL, CRYPTO_ALG_INTERNAL)) {
		pr_err("not loaded: the AES-NI XTS code (" AESNI_XTS_DRIVER ") is not in this kernel\n");
		return -ENODEV;
	}
	/*
	 * aes_ti.ko registers "aes-fixed-time" under the alias crypto-aes only, so
	 * asking the crypto API for that driver name cannot load it: load it by its
	 * module name (a no-op when it is built in or loaded).
	 */
	request_module("aes_ti");
	if (!crypto_has_skcipher(FALLBACK_XTS, 0, CRYPTO_ALG_ASYNC)) {
		pr_err("not loaded: no fixed-time AES (aes-fixed-time, CONFIG_CRYPTO_AES_TI) for where the FPU cannot be used; aes-generic is not used (cache timing)\n");
		return -ENODEV;
	}
	return 0;
}

static int __init volkey_xts_init(void)
{
	int err = volkey_xts_useful();

	if (err)
		return err;
	/* The crypto manager runs the kernel's xts(aes) self-tests on it here. */
	err = crypto_register_skcipher(&volkey_xts_alg);
	if (err) {
		pr_err("cannot register xts-aes-volkey: %d\n", err);
		return err;
	}
	pr_info("xts-aes-volkey registered (priority %d): synchronous AES-NI XTS, fixed-time AES XTS where the FPU is not usable\n",
		VOLKEY_XTS_PRIORITY);
	return 0;
}

static void __exit volkey_xts_exit(void)
{
	crypto_unregister_skcipher(&volkey_xts_alg);
}

module_init(volkey_xts_init);
module_exit(volkey_xts_exit);

MODULE_DESCRIPTION("Synchronous xts(aes) for dm-crypt: AES-NI where usable, fixed-time AES otherwise (volkey)");
MODULE_LICENSE("GPL");
/* No alias for "xts(aes)": the module loads when volkey decides (kernel_module = ...), not on every request. */
MODULE_ALIAS_CRYPTO("xts-aes-volkey");
