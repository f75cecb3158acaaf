/* custseg — customer segmentation library (umbrella header). */
#ifndef CUSTSEG_H
#define CUSTSEG_H

#include "custseg/version.h"
#include "custseg/error.h"
#include "custseg/csv.h"
#include "custseg/table.h"
#include "custseg/clv.h"
#include "custseg/features.h"
#include "custseg/prep.h"
#include "custseg/kmeans.h"
#include "custseg/hclust.h"
#include "custseg/dbscan.h"
#include "custseg/gmm.h"
#include "custseg/metrics.h"
#include "custseg/profile.h"
#include "custseg/model.h"
#include "custseg/pca.h"
#include "custseg/report.h"
#include "custseg/segment.h"
#include "custseg/store.h"
#include "custseg/privacy.h"
#include "custseg/stream.h"
#include "custseg/tree.h"
#include "custseg/linear.h"
#include "custseg/drift.h"
#include "custseg/audit.h"
#include "custseg/explain.h"
#include "custseg/assoc.h"

#endif
