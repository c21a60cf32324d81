"""StyleGAN2: realistic one-line (or few-line) bugs in the answers, and correct variants."""

from __future__ import annotations

from autograder.quality import mutant, variant

AUTO_TESTS = {"test_generate_latent_code": 1, "test_generate_images": 2, "test_interpolate_images": 2,
              "test_generate_from_subnetwork": 2, "test_style_mix": 2}
MANUAL_POINTS = 4
LAT, IMG, INTERP, SUB = "generate_latent_code", "generate_images", "interpolate_images", "generate_from_subnetwork"
MIX = "style_mix"
T_LAT, T_IMG, T_INTERP, T_SUB, T_MIX = AUTO_TESTS
MIX_LINE = "                ws[styles] = col_w[styles]\n"

MUTANTS = {
    # TODO 1: latent codes
    "unseeded_latents": mutant(LAT, "np.random.RandomState(seed)", "np.random.RandomState()", T_LAT,
                               kind="seed not used"),
    "uniform_latents": mutant(LAT, "rnd.randn(batch, latent_dim)", "rnd.rand(batch, latent_dim)", T_LAT,
                              kind="wrong distribution"),
    "torch_generator_latents": mutant(
        LAT, "return torch.from_numpy(rnd.randn(batch, latent_dim)).float()",
        "return torch.randn(batch, latent_dim, generator=torch.Generator().manual_seed(seed))", T_LAT,
        kind="another random generator than the handout's"),
    "float64_latents": mutant(LAT, "torch.from_numpy(rnd.randn(batch, latent_dim)).float()",
                              "torch.from_numpy(rnd.randn(batch, latent_dim))", T_LAT, kind="dtype"),
    "latents_transposed": mutant(LAT, "rnd.randn(batch, latent_dim)", "rnd.randn(latent_dim, batch).T", T_LAT,
                                 kind="shape/axis"),
    # TODO 2: images with truncation
    "truncation_ignored": mutant(IMG, "truncation_psi=truncation, noise_mode", "truncation_psi=1, noise_mode", T_IMG,
                                 kind="argument not forwarded"),
    "random_noise_in_images": mutant(IMG, 'G(z, None, truncation_psi=truncation, noise_mode="const")',
                                     'G(z, None, truncation_psi=truncation, noise_mode="random")', T_IMG,
                                     kind="random noise instead of constant"),
    "default_grid_rows": mutant(IMG, "return image_grid(images, nrow=batch)", "return image_grid(images)", T_IMG,
                                kind="argument not forwarded (one row)"),
    "images_rescaled_twice": mutant(IMG, "return image_grid(images, nrow=batch)",
                                    "return image_grid((images + 1) / 2, nrow=batch)", T_IMG, kind="value range"),
    "returns_tensor_not_image": mutant(IMG, "return image_grid(images, nrow=batch)", "return images", T_IMG,
                                       kind="return type"),
    "truncation_cutoff_instead_of_psi": mutant(IMG, "truncation_psi=truncation, noise_mode",
                                               "truncation_cutoff=truncation, noise_mode", T_IMG,
                                               kind="wrong keyword"),
    # TODO 3: interpolation
    "endpoint_missing": mutant(INTERP, "np.linspace(1, 0, steps)", "np.linspace(1, 0, steps + 1)[:-1]", T_INTERP,
                               kind="off by one"),
    "interpolation_reversed": mutant(INTERP, "np.linspace(1, 0, steps)", "np.linspace(0, 1, steps)", T_INTERP,
                                     kind="direction of the interpolation"),
    "no_truncation_in_z_space": mutant(INTERP, "G(r * z1 + (1 - r) * z2, None, truncation_psi=truncation, ",
                                       "G(r * z1 + (1 - r) * z2, None, ", T_INTERP, kind="argument not forwarded"),
    "no_truncation_in_w_space": mutant(
        INTERP, "w1 = G.mapping(z1, None, truncation_psi=truncation)", "w1 = G.mapping(z1, None)", T_INTERP,
        more=[(INTERP, "w2 = G.mapping(z2, None, truncation_psi=truncation)", "w2 = G.mapping(z2, None)")],
        kind="argument not forwarded"),
    "random_noise_in_w_path": mutant(INTERP, 'G.synthesis(r * w1 + (1 - r) * w2, noise_mode="const")',
                                     'G.synthesis(r * w1 + (1 - r) * w2, noise_mode="random")', T_INTERP,
                                     kind="constant noise in one synthesis path only"),
    "w_space_ignored": mutant(INTERP, '        if space == "z":\n', '        if True:\n', T_INTERP,
                              kind="option ignored"),
    "images_interpolated": mutant(
        INTERP, "images.append(G(r * z1 + (1 - r) * z2, None, truncation_psi=truncation, noise_mode=\"const\"))",
        "images.append(r * G(z1, None, truncation_psi=truncation, noise_mode=\"const\")\n"
        "                              + (1 - r) * G(z2, None, truncation_psi=truncation, noise_mode=\"const\"))",
        T_INTERP, kind="interpolating images instead of latents"),
    # TODO 4: the sub-networks
    "truncation_sign_flipped": mutant(SUB, "(ws - w_avg) * truncation", "(w_avg - ws) * truncation", T_SUB,
                                      kind="wrong sign"),
    "batch_mean_for_w_avg": mutant(SUB, "w_avg = G.mapping.w_avg", "w_avg = ws.mean(dim=0, keepdim=True)", T_SUB,
                                   kind="wrong average"),
    "psi_and_one_minus_psi_swapped": mutant(SUB, "(ws - w_avg) * truncation", "(ws - w_avg) * (1 - truncation)",
                                            T_SUB, kind="wrong formula"),
    "random_noise_in_synthesis": mutant(SUB, 'return G.synthesis(ws, noise_mode="const")',
                                        'return G.synthesis(ws, noise_mode="random")', T_SUB,
                                        kind="random noise instead of constant"),
    "seeds_sorted": mutant(SUB, "for seed in seeds]", "for seed in sorted(seeds)]", T_SUB,
                           kind="order of the seeds"),
    "truncated_twice": mutant(SUB, "ws = G.mapping(z, None)", "ws = G.mapping(z, None, truncation_psi=truncation)",
                              T_SUB, kind="truncation applied twice"),
    "truncation_by_the_mapping": mutant(
        SUB, "ws = G.mapping(z, None)\n        w_avg = G.mapping.w_avg\n        ws = w_avg + (ws - w_avg) * truncation",
        "ws = G.mapping(z, None, truncation_psi=truncation)", T_SUB,
        kind="the mapping's own truncation instead of the truncation by hand (the TODO's point)"),
    "returns_pil_image": mutant(SUB, 'return G.synthesis(ws, noise_mode="const")',
                                'return image_grid(G.synthesis(ws, noise_mode="const"), nrow=len(seeds))', T_SUB,
                                kind="return type"),
    # TODO 5: style mixing
    "rows_and_columns_swapped": mutant(MIX, "ws = row_w.clone()\n                ws[styles] = col_w[styles]",
                                       "ws = col_w.clone()\n                ws[styles] = row_w[styles]", T_MIX,
                                       kind="roles of rows and columns swapped"),
    "grid_transposed": mutant(MIX, "return torch.stack(rows)", "return torch.stack(rows).transpose(0, 1)", T_MIX,
                              kind="shape/axis (columns first)"),
    "styles_counted_from_one": mutant(MIX, "styles = list(col_styles)", "styles = [s - 1 for s in col_styles]",
                                      T_MIX, kind="off by one (layers counted from 1)"),
    "styles_as_a_prefix": mutant(MIX, MIX_LINE, "                ws[:len(styles)] = col_w[:len(styles)]\n", T_MIX,
                                 kind="col_styles taken as a count of leading layers"),
    "last_listed_style_left_out": mutant(MIX, "styles = list(col_styles)", "styles = list(col_styles)[:-1]", T_MIX,
                                         kind="off by one (slice)"),
    "mixed_in_place": mutant(MIX, "ws = row_w.clone()", "ws = row_w", T_MIX, kind="row_ws changed in place"),
    "random_noise_in_mixing": mutant(MIX, 'G.synthesis(ws.unsqueeze(0), noise_mode="const")',
                                     'G.synthesis(ws.unsqueeze(0), noise_mode="random")', T_MIX,
                                     kind="random noise instead of constant"),
    "first_column_everywhere": mutant(MIX, "ws[styles] = col_w[styles]", "ws[styles] = col_ws[0][styles]", T_MIX,
                                      kind="loop variable not used"),
    "generator_called_on_ws": mutant(MIX, 'cells.append(G.synthesis(ws.unsqueeze(0), noise_mode="const")[0])',
                                     'cells.append(G(ws.unsqueeze(0), None, noise_mode="const")[0])', T_MIX,
                                     kind="ws fed to G (the mapping again) instead of G.synthesis"),
    "truncated_again": mutant(
        MIX, "                ws[styles] = col_w[styles]\n",
        "                ws[styles] = col_w[styles]\n"
        "                ws = G.mapping.w_avg + 0.7 * (ws - G.mapping.w_avg)\n", T_MIX,
        kind="truncation applied a second time"),
}

VARIANTS = {
    "standard_normal_and_as_tensor": variant(
        LAT, "rnd = np.random.RandomState(seed)\n    return torch.from_numpy(rnd.randn(batch, latent_dim)).float()",
        "rng = np.random.RandomState(seed)\n"
        "    return torch.as_tensor(rng.standard_normal((batch, latent_dim)), dtype=torch.float32)",
        kind="standard_normal, as_tensor with a dtype"),
    "default_noise_mode_and_device_of_w_avg": variant(
        IMG, 'G(z, None, truncation_psi=truncation, noise_mode="const")', "G(z, None, truncation)",
        more=[(SUB, "device = next(G.parameters()).device", "device = G.mapping.w_avg.device"),
              (SUB, "ws = w_avg + (ws - w_avg) * truncation", "ws = truncation * ws + (1 - truncation) * w_avg")],
        kind="positional psi, default noise mode, another formula of the truncation"),
    "interpolation_with_list_of_ws": variant(
        INTERP, "        for r in np.linspace(1, 0, steps):\n            r = float(r)\n",
        "        for t in torch.linspace(0, 1, steps).tolist():\n            r = 1 - t\n",
        more=[(INTERP, "return torch.cat(images)", "return torch.cat(images, dim=0).contiguous()")],
        kind="torch.linspace, 1 - t"),
    "interpolation_lerp": variant(
        INTERP, "images.append(G.synthesis(r * w1 + (1 - r) * w2, noise_mode=\"const\"))",
        "images.append(G.synthesis(torch.lerp(w2, w1, r), noise_mode=\"const\"))",
        kind="torch.lerp"),
    "subnetwork_stack_of_codes": variant(
        SUB, "z = torch.cat([generate_latent_code(seed, 1, G.z_dim) for seed in seeds]).to(device)",
        "codes = [generate_latent_code(s, 1, G.z_dim)[0] for s in seeds]\n    z = torch.stack(codes).to(device)",
        kind="torch.stack of single codes"),
    "subnetwork_lerp_and_explicit_psi_one": variant(
        SUB, "ws = G.mapping(z, None)\n        w_avg = G.mapping.w_avg\n        ws = w_avg + (ws - w_avg) * truncation",
        "w = G.mapping(z, None, truncation_psi=1)\n"
        "        ws = torch.lerp(G.mapping.w_avg.expand_as(w), w, truncation)",
        kind="torch.lerp towards w_avg, the mapping called with psi=1 spelled out"),
    "images_from_the_subnetworks": variant(
        IMG, 'images = G(z, None, truncation_psi=truncation, noise_mode="const")',
        'w_avg = G.mapping.w_avg\n'
        '        images = G.synthesis(w_avg + truncation * (G.mapping(z, None) - w_avg), noise_mode="const")',
        kind="TODO 2 with the truncation by hand (mapping, then synthesis)"),
    "style_mix_batched": variant(
        MIX, """    styles = list(col_styles)
    rows = []
    with torch.no_grad():
        for row_w in row_ws:
            cells = []
            for col_w in col_ws:
                ws = row_w.clone()
                ws[styles] = col_w[styles]
                cells.append(G.synthesis(ws.unsqueeze(0), noise_mode="const")[0])
            rows.append(torch.stack(cells))
    return torch.stack(rows)""", """    R, C = row_ws.shape[0], col_ws.shape[0]
    ws = row_ws.unsqueeze(1).repeat(1, C, 1, 1)
    if len(col_styles) > 0:
        ws[:, :, col_styles] = col_ws[:, col_styles].unsqueeze(0).expand(R, -1, -1, -1)
    with torch.no_grad():
        images = G.synthesis(ws.reshape(R * C, G.num_ws, G.w_dim))
    return images.reshape(R, C, *images.shape[1:])""",
        kind="one batched synthesis call, default noise mode"),
    "style_mix_mask": variant(
        MIX, "                ws = row_w.clone()\n                ws[styles] = col_w[styles]\n",
        "                mask = torch.zeros(G.num_ws, 1, dtype=torch.bool, device=row_w.device)\n"
        "                mask[styles] = True\n"
        "                ws = torch.where(mask, col_w, row_w)\n",
        kind="a boolean mask and torch.where"),
}
