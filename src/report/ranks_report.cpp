// Analysis and rendering of the rank counts (see ranks_report.h).
#include "report/ranks_report.h"

#include <algorithm>
#include <cmath>

namespace batchscope::report {

namespace {

const RankRun* find_run(const SweepReport& r, int ranks) {
  for (const RankRun& run : r.rank_runs)
    if (run.ran && run.ranks == ranks) return &run;
  return nullptr;
}

const SweepRow* find_row(const RankRun* run, int64_t batch) {
  if (!run) return nullptr;
  for (const SweepRow& row : run->rows)
    if (row.batch == batch) return &row;
  return nullptr;
}

std::string bytes_text(double b) {
  return b >= (1 << 20) ? fmt("%.1f MiB", b / (1 << 20)) : b >= 1024 ? fmt("%.0f KiB", b / 1024) : fmt("%.0f B", b);
}

double comm_share(const SweepRow& row) { return phase_shares(row.profile).comm; }

// The modelled share of the allreduce in a step of global batch B.
double model_comm_share(const RankLine& l, int64_t batch) {
  const double t = l.compute.fixed + l.allreduce_seconds +
                   l.compute.per_image * static_cast<double>(batch) / static_cast<double>(l.ranks);
  return t > 0 ? 100 * l.allreduce_seconds / t : 0;
}

std::string threads_text(int ranks, int threads) {
  return fmt("%d rank%s x %d thread%s", ranks, ranks == 1 ? "" : "s", threads, threads == 1 ? "" : "s");
}

std::string noise_text(const NoiseScaleInterval& n) {
  if (n.samples == 0) return "-";
  if (!std::isfinite(n.b_simple)) return "no signal";
  const std::string hi = std::isfinite(n.hi) ? fmt("%.0f", n.hi) : std::string("inf");
  return fmt("%.0f [%.0f, %s]", n.b_simple, n.lo, hi.c_str());
}

std::vector<std::string> explain(const SweepReport& r, const RanksAnalysis& a) {
  std::vector<std::string> out;
  const RankLine* one = nullptr;
  for (const RankLine& l : a.lines)
    if (l.ranks == 1) one = &l;
  for (const RankLine& l : a.lines) {
    if (l.ranks == 1) continue;
    const RankRun* run = find_run(r, l.ranks);
    if (!run || run->rows.empty()) continue;
    const AllreduceFit& f = run->fit;
    const double grad = static_cast<double>(run->gradient_bytes);
    // 1. The probe and its fit.
    if (f.ok && !run->probe.empty())
      out.push_back(fmt(
          "%d ranks: the gradient allreduce (MPI_Allreduce, float sum in place) fits t = alpha + beta*bytes with "
          "alpha = %.1f us and beta = 1/(%.2f GB/s), on %zu sizes from %s to %s (the worst point off by %.0f%%); "
          "this model's %s gradient costs %s per step that way.",
          l.ranks, 1e6 * f.alpha, f.gigabytes_per_second(), run->probe.size(),
          bytes_text(static_cast<double>(run->probe.front().bytes)).c_str(),
          bytes_text(static_cast<double>(run->probe.back().bytes)).c_str(), 100 * f.max_relative_error,
          bytes_text(grad).c_str(), ms(l.allreduce_seconds).c_str()));
    // 2. The comm phase inside real steps against the probe.
    const SweepRow& lo = run->rows.front();
    const SweepRow& hi = run->rows.back();
    out.push_back(fmt(
        "Inside the training steps the comm phase took %.3f ms at global batch %lld (%.1f%% of the step) and %.3f ms "
        "at %lld (%.1f%%), against %s for the allreduce alone: the rest is waiting for the slower rank, since an "
        "allreduce ends only when the last rank has arrived.",
        lo.profile.comm_ms, static_cast<long long>(lo.batch), comm_share(lo), hi.profile.comm_ms,
        static_cast<long long>(hi.batch), comm_share(hi), ms(l.allreduce_seconds).c_str()));
    // 3. The cost model.
    std::string base;
    if (one)
      base = fmt(" For %s: a = %s, b = %s per image.", threads_text(1, one->threads_per_rank).c_str(),
                 ms(one->compute.fixed).c_str(), ms(one->compute.per_image).c_str());
    out.push_back(fmt(
        "So t_step = a + T_allreduce + b*B/R, fitted on the step time less its comm phase: for %s, a = %s, "
        "T_allreduce = %s and b = %s per image of a rank's shard, %s per image of the global batch.%s",
        threads_text(l.ranks, l.threads_per_rank).c_str(), ms(l.compute.fixed).c_str(),
        ms(l.allreduce_seconds).c_str(), ms(l.compute.per_image).c_str(),
        ms(l.compute.per_image / l.ranks).c_str(), base.c_str()));
    // 4. Where communication stops mattering.
    std::string measured;
    const SweepRow* first_under = nullptr;
    for (const SweepRow& row : run->rows)
      if (comm_share(row) < 10 && (!first_under || row.batch < first_under->batch)) first_under = &row;
    measured = first_under ? fmt(" Measured, the comm phase is first under 10%% at batch %lld (%.1f%%).",
                                 static_cast<long long>(first_under->batch), comm_share(*first_under))
                           : fmt(" Measured, it stays above 10%% up to batch %lld (%.1f%% there).",
                                 static_cast<long long>(hi.batch), comm_share(hi));
    if (l.batch_comm_under_10pct > 0)
      out.push_back(fmt(
          "Communication falls under 10%% of a %d-rank step from global batch %lld on (the model: T_allreduce <= "
          "0.1*t_step when B >= R*(9*T_allreduce - a)/b).%s",
          l.ranks, static_cast<long long>(l.batch_comm_under_10pct), measured.c_str()));
    else
      out.push_back(fmt("By the model communication never falls under 10%% of a %d-rank step here (b is too "
                        "small or T_allreduce too large).%s",
                        l.ranks, measured.c_str()));
    // 5. More ranks against more threads, batch by batch.
    const RankRun* base_run = find_run(r, 1);
    if (base_run) {
      int wins = 0, losses = 0;
      double lo_ratio = 1e300, hi_ratio = 0;
      std::string per, won_at;
      for (const SweepRow& row : run->rows) {
        const SweepRow* b1 = find_row(base_run, row.batch);
        if (!b1 || b1->images_per_second <= 0) continue;
        const double ratio = row.images_per_second / b1->images_per_second;
        lo_ratio = std::min(lo_ratio, ratio);
        hi_ratio = std::max(hi_ratio, ratio);
        (ratio > 1 ? wins : losses)++;
        if (ratio > 1) won_at += fmt("%s%lld (%+.0f%%)", won_at.empty() ? "" : ", ", static_cast<long long>(row.batch), 100 * (ratio - 1));
        per += fmt("%s%lld: %.0f against %.0f", per.empty() ? "" : "; ", static_cast<long long>(row.batch),
                   row.images_per_second, b1->images_per_second);
      }
      if (wins + losses > 0) {
        const std::string who = threads_text(l.ranks, l.threads_per_rank), base_who = threads_text(1, base_run->threads_per_rank);
        std::string verdict;
        if (wins == 0)
          verdict = fmt("%s is slower than %s at every batch measured, at %.0f-%.0f%% of its speed", who.c_str(),
                        base_who.c_str(), 100 * lo_ratio, 100 * hi_ratio);
        else if (losses == 0)
          verdict = fmt("%s is faster than %s at every batch measured, by %.0f-%.0f%%", who.c_str(), base_who.c_str(),
                        100 * (lo_ratio - 1), 100 * (hi_ratio - 1));
        else
          verdict = fmt("%s is faster than %s only at batch %s and slower at the other %d, down to %.0f%% of its speed",
                        who.c_str(), base_who.c_str(), won_at.c_str(), losses, 100 * lo_ratio);
        // Why, from the two cost models: the same cores, so any gain is cheaper arithmetic
        // per image (kernels on fewer threads each) bought with a larger cost per step.
        std::string why;
        const double b_rank = one ? l.compute.per_image / l.ranks : 0, b_one = one ? one->compute.per_image : 0;
        const double extra = one ? l.compute.fixed + l.allreduce_seconds - one->compute.fixed : 0;
        if (one && b_rank < b_one && extra > 0)
          why = fmt(" Per image of the global batch the ranks cost b/R = %s against %s for one process (a kernel on "
                    "fewer threads splits and joins less), but every step pays a + T_allreduce = %s against %s; so "
                    "by these fits %d ranks win above a global batch of about %.0f, and lose below it.",
                    ms(b_rank).c_str(), ms(b_one).c_str(), ms(l.compute.fixed + l.allreduce_seconds).c_str(),
                    ms(one->compute.fixed).c_str(), l.ranks, extra / (b_one - b_rank));
        else if (one)
          why = fmt(" Per image of the global batch the ranks cost b/R = %s against %s for one process, and every "
                    "step pays a + T_allreduce = %s against %s: more ranks on the same cores buy nothing here.",
                    ms(b_rank).c_str(), ms(b_one).c_str(), ms(l.compute.fixed + l.allreduce_seconds).c_str(),
                    ms(one->compute.fixed).c_str());
        out.push_back(fmt(
            "On this machine %s (images per second at each global batch, %s: %s). Both use the same %d cores, so "
            "splitting the batch over processes adds no arithmetic units, only the allreduce and the wait for the "
            "slower rank.%s Across machines each rank brings cores and memory bandwidth of its own, and b/R "
            "shrinks with R while T_allreduce does not.",
            verdict.c_str(), threads_text(l.ranks, l.threads_per_rank).c_str(), per.c_str(),
            l.ranks * l.threads_per_rank, why.c_str()));
      }
    }
    // 6. The noise scale, almost free.
    std::string noise;
    double norm_ms = 0, step_ms = 0;
    for (const SweepRow& row : run->rows) {
      if (row.noise.samples == 0) continue;
      noise += fmt("%s%lld: %s", noise.empty() ? "" : "; ", static_cast<long long>(row.batch), noise_text(row.noise).c_str());
      norm_ms = std::max(norm_ms, row.noise_ms_per_step);
      step_ms = std::max(step_ms, row.ms_per_iteration);
    }
    if (!noise.empty())
      out.push_back(fmt(
          "The gradient noise scale comes from the ranks' own gradients (McCandlish et al. 2018, appendix A.1: "
          "|G_small|^2 from each rank's shard of B/%d images, |G_big|^2 from their mean over B), one sample per "
          "timed step; B_simple [16th, 84th percentile of a bootstrap over the steps] at each global batch, "
          "from a fresh model, so early in training: %s. Measuring it costs one pass over the gradient per step, "
          "at most %.3f ms here.",
          l.ranks, noise.c_str(), norm_ms));
  }
  return out;
}

}  // namespace

RanksAnalysis analyse_ranks(const SweepReport& r) {
  RanksAnalysis a;
  for (const RankRun& run : r.rank_runs) {
    if (!run.ran || run.rows.empty()) continue;
    if (run.ranks > 1) a.present = true;
    RankLine l;
    l.ranks = run.ranks;
    l.threads_per_rank = run.threads_per_rank;
    std::vector<int64_t> shard;
    std::vector<double> compute;
    for (const SweepRow& row : run.rows) {
      shard.push_back(row.batch / run.ranks);
      compute.push_back(1e-3 * (row.ms_per_iteration - row.profile.comm_ms));
    }
    l.compute = fit_step_line(shard, compute);
    if (run.ranks > 1 && run.fit.ok) l.allreduce_seconds = run.fit.seconds(run.gradient_bytes);
    if (run.ranks > 1 && l.compute.per_image > 0) {
      // T <= 0.1 (a + T + b B/R)  <=>  B >= R (9T - a) / b; the smallest multiple of R.
      const double need = run.ranks * (9 * l.allreduce_seconds - l.compute.fixed) / l.compute.per_image;
      const int64_t b = std::max<int64_t>(run.ranks, static_cast<int64_t>(std::ceil(need / run.ranks - 1e-9)) * run.ranks);
      l.batch_comm_under_10pct = b;
    }
    a.lines.push_back(l);
  }
  if (a.present) a.explanation = explain(r, a);
  return a;
}

Table ranks_table(const SweepReport& r, const RanksAnalysis& a) {
  Table t({"batch", "ranks x threads", "ms/it", "img/s", "vs 1 rank", "comm ms", "comm %", "model comm %",
           "B_simple [16-84%]"});
  std::vector<int64_t> batches;
  for (const RankRun& run : r.rank_runs)
    for (const SweepRow& row : run.rows) batches.push_back(row.batch);
  std::sort(batches.begin(), batches.end());
  batches.erase(std::unique(batches.begin(), batches.end()), batches.end());
  const RankRun* base = find_run(r, 1);
  for (int64_t b : batches)
    for (const RankRun& run : r.rank_runs) {
      const SweepRow* row = find_row(&run, b);
      if (!row) continue;
      const SweepRow* b1 = find_row(base, b);
      const RankLine* line = nullptr;
      for (const RankLine& l : a.lines)
        if (l.ranks == run.ranks) line = &l;
      t.add({fmt("%lld", static_cast<long long>(b)), fmt("%d x %d", run.ranks, run.threads_per_rank),
             fmt("%.3f", row->ms_per_iteration), fmt("%.1f", row->images_per_second),
             b1 && b1->images_per_second > 0 ? fmt("%.2fx", row->images_per_second / b1->images_per_second) : "-",
             fmt("%.3f", row->profile.comm_ms), fmt("%.1f", comm_share(*row)),
             line && run.ranks > 1 ? fmt("%.1f", model_comm_share(*line, b)) : "-", noise_text(row->noise)});
    }
  return t;
}

nlohmann::ordered_json ranks_json(const SweepReport& r, const RanksAnalysis& a) {
  nlohmann::ordered_json runs = nlohmann::ordered_json::array();
  for (const RankRun& run : r.rank_runs) {
    nlohmann::ordered_json rows = nlohmann::ordered_json::array();
    for (const SweepRow& row : run.rows) rows.push_back(row_json(r, row));
    nlohmann::ordered_json probe = nlohmann::ordered_json::array();
    for (const AllreducePoint& p : run.probe)
      probe.push_back({{"bytes", p.bytes}, {"seconds", p.seconds}, {"repetitions", p.repetitions}});
    nlohmann::ordered_json j = {{"ranks", run.ranks}, {"threads_per_rank", run.threads_per_rank}, {"ran", run.ran},
                                {"note", run.note}, {"skipped_batch_sizes", run.skipped},
                                {"gradient_bytes", run.gradient_bytes}, {"allreduce_probe", probe}};
    if (run.fit.ok)
      j["allreduce_fit"] = {{"alpha_seconds", run.fit.alpha}, {"beta_seconds_per_byte", run.fit.beta},
                            {"gigabytes_per_second", run.fit.gigabytes_per_second()},
                            {"max_relative_error", run.fit.max_relative_error}};
    for (const RankLine& l : a.lines)
      if (l.ranks == run.ranks)
        j["cost_model"] = {{"a_seconds", l.compute.fixed}, {"b_seconds_per_shard_image", l.compute.per_image},
                           {"allreduce_seconds", l.allreduce_seconds},
                           {"batch_comm_under_10pct", l.batch_comm_under_10pct}};
    j["results"] = rows;
    runs.push_back(j);
  }
  return {{"model", "t_step = a + T_allreduce + b*B/R"}, {"runs", runs}, {"explanation", a.explanation}};
}

}  // namespace batchscope::report
