// The rank counts of `sweep --ranks`: the cost model per rank count with the allreduce in it,
// where communication stops mattering, whether more ranks on this machine pay, and the noise
// scale the ranks' shard gradients give, as a table, paragraphs and JSON.
//   RanksAnalysis ra = analyse_ranks(report);   // analyse_sweep calls it
//   ranks_table(report).text()
#pragma once
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "report/sweep_report.h"
#include "report/table.h"

namespace batchscope::report {

RanksAnalysis analyse_ranks(const SweepReport& r);
// batch, ranks x threads, ms/it, img/s, against one rank, comm ms, comm % measured and
// modelled, B_simple with its interval.
Table ranks_table(const SweepReport& r, const RanksAnalysis& a);
nlohmann::ordered_json ranks_json(const SweepReport& r, const RanksAnalysis& a);

}  // namespace batchscope::report
