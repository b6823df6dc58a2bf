// Worked examples in the format of the arithmetic domain the bundled model is trained on
// (trainer/implicit_prm/data.py): a chain of operations applied left to right, one line per
// operation "<a><op><b>=<c>", then "Answer: <n>". The flawed ones make the student's classic
// mistakes, so a trained model's step rewards should drop exactly at the wrong step.
export const EXAMPLES = [
  {
    name: 'Correct: 48+27-19*3',
    prompt: '48+27-19*3',
    steps: ['48+27=75', '75-19=56', '56*3=168', 'Answer: 168'],
  },
  {
    name: 'Borrow mistake: 48+27-19*3',
    prompt: '48+27-19*3',
    steps: ['48+27=75', '75-19=64', '64*3=192', 'Answer: 192'],
  },
  {
    name: 'Forgotten carry: 58+36*2',
    prompt: '58+36*2',
    steps: ['58+36=84', '84*2=168', 'Answer: 168'],
  },
  {
    name: 'Multiplication carry: 23*4+15',
    prompt: '23*4+15',
    steps: ['23*4=82', '82+15=97', 'Answer: 97'],
  },
  {
    name: 'Correct, longer: 36+45-18*2+7',
    prompt: '36+45-18*2+7',
    steps: ['36+45=81', '81-18=63', '63*2=126', '126+7=133', 'Answer: 133'],
  },
];
